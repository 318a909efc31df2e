package pool

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/wire"
)

var wireSquare = Register("wiretest.square", func(_ context.Context, x int64) (int64, error) { return x * x, nil })

func TestChunkRoundTrip(t *testing.T) {
	f, _ := wire.Lookup(wireSquare.Name())
	payload, err := wire.Encode(squareChunk(10, 1, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	data, err := f.RunChunk(context.Background(), payload, "w1")
	if err != nil {
		t.Fatal(err)
	}
	var res wire.ChunkResult[int64]
	if err := wire.Decode(data, &res); err != nil || len(res.Items) != 3 || res.Items[2] != 9 {
		t.Fatalf("result %v, %v", res.Items, err)
	}
}

func TestChunkRejectsBadPayloads(t *testing.T) {
	f, _ := wire.Lookup(wireSquare.Name())
	good, _ := wire.Encode(squareChunk(0, 1))
	for name, payload := range map[string][]byte{
		"empty":         nil,
		"wrong version": append([]byte{9}, good[1:]...),
		"wrong types":   mustEncode(t, wire.ChunkRequest[string]{Items: []string{"x"}, InType: "int64", OutType: "int64"}),
		"truncated":     good[:len(good)-1],
	} {
		_, err := f.RunChunk(context.Background(), payload, "w1")
		var ex *gearman.JobException
		if !errors.As(err, &ex) {
			t.Fatalf("%s: %v, want a JobException", name, err)
		}
		te := parseTaskError("x", ex.Data)
		if te.Func != "wiretest.square" || te.Index != -1 || !strings.Contains(te.Message, "cannot decode the chunk") {
			t.Fatalf("%s: %+v", name, te)
		}
	}
}

// squareChunk is a chunk of wireSquare as a client sends it.
func squareChunk(start int, items ...int64) wire.ChunkRequest[int64] {
	in, out := wireSquare.Shapes()
	return wire.ChunkRequest[int64]{Start: start, Items: items, InType: in, OutType: out}
}

func mustEncode(t *testing.T, v any) []byte {
	b, err := wire.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTaskErrorWire(t *testing.T) {
	in := &TaskError{Func: "f", Index: 7, Worker: "w", Message: "m", Stack: "s", Panic: true}
	out := parseTaskError("f", in.marshal())
	if *out != *in {
		t.Fatalf("round trip: %+v != %+v", out, in)
	}
	plain := parseTaskError("f", []byte("plain text from a C worker"))
	if plain.Message != "plain text from a C worker" || plain.Index != -1 {
		t.Fatalf("plain exception: %+v", plain)
	}
}

// FuzzRunChunk feeds arbitrary payloads to a worker-side function: it
// must answer with a result or a task error, never panic.
func FuzzRunChunk(f *testing.F) {
	good, _ := wire.Encode(squareChunk(3, 1, 2))
	f.Add(good)
	f.Add([]byte("\x02\x95\x00\x00\xa5int64\xa5int64\x91\xa1x"))
	f.Add([]byte("\x02\x95\x00\x00\xa6string\xa5int64\x91\x01"))
	f.Add([]byte{})
	fn, _ := wire.Lookup(wireSquare.Name())
	f.Fuzz(func(t *testing.T, payload []byte) {
		data, err := fn.RunChunk(context.Background(), payload, "fuzz")
		var ex *gearman.JobException
		if err != nil && !errors.As(err, &ex) {
			t.Fatalf("error %v is not a JobException", err)
		}
		if err == nil {
			var res wire.ChunkResult[int64]
			if wire.Decode(data, &res) != nil {
				t.Fatal("a result that does not decode")
			}
		}
	})
}

func TestTaskErrorWireKeepsCodeAndMismatch(t *testing.T) {
	mm := &TypeMismatchError{Func: "f", ClientIn: "int64", ClientOut: "int64", WorkerIn: "string", WorkerOut: "int64"}
	in := &TaskError{Func: "f", Index: -1, Worker: "w", Message: mm.Error(), Code: "errs.bad", Mismatch: mm}
	out := parseTaskError("f", in.marshal())
	if out.Code != in.Code || out.Mismatch == nil || *out.Mismatch != *mm || out.Message != in.Message {
		t.Fatalf("round trip: %+v (%+v)", out, out.Mismatch)
	}
}

type wideItem struct {
	AVeryLongFieldNameNumberOne, AVeryLongFieldNameNumberTwo, AVeryLongFieldNameNumberThree    int64
	AVeryLongFieldNameNumberFour, AVeryLongFieldNameNumberFive, AVeryLongFieldNameNumberSix    int64
	AVeryLongFieldNameNumberSeven, AVeryLongFieldNameNumberEight, AVeryLongFieldNameNumberNine int64
}

var (
	wireRuns atomic.Int64
	wireWide = Register("wiretest.wide", func(_ context.Context, w wideItem) (int64, error) {
		wireRuns.Add(1)
		return w.AVeryLongFieldNameNumberOne, nil
	})
)

// TestChunkOfOtherShapesRefused: a chunk whose shapes are not the
// function's is refused before any item runs; a long shape travels as its
// hash, and the client puts its own shape back in the error.
func TestChunkOfOtherShapesRefused(t *testing.T) {
	f, _ := wire.Lookup(wireWide.Name())
	in, out := wireWide.Shapes()
	if len(in) <= maxWireShape || wireWide.shapes.wireIn[0] != '#' {
		t.Fatalf("In shape %q should travel as a hash, not %q", in, wireWide.shapes.wireIn)
	}
	for name, req := range map[string]wire.ChunkRequest[wideItem]{
		"other In":  {Items: []wideItem{{}, {}}, InType: "#0123456789abcdef", OutType: out},
		"other Out": {Items: []wideItem{{}, {}}, InType: wireWide.shapes.wireIn, OutType: "string"},
		"no shapes": {Items: []wideItem{{}, {}}},
	} {
		_, err := f.RunChunk(context.Background(), mustEncode(t, req), "w1")
		var te *TaskError
		var mm *TypeMismatchError
		if !errors.As(err, &te) || !errors.As(err, &mm) || te.Index != -1 || mm.WorkerIn != in || mm.WorkerOut != out {
			t.Fatalf("%s: %v; want a type mismatch", name, err)
		}
		if mm.ClientIn != req.InType || mm.ClientOut != req.OutType {
			t.Errorf("%s: the worker reports the client's shapes as %q, %q", name, mm.ClientIn, mm.ClientOut)
		}
		wireWide.explain(te)
		if mm.ClientIn != in || !strings.Contains(te.Message, "the client sends In="+in+" and expects Out="+out) {
			t.Errorf("%s: explained: %s", name, te.Message)
		}
	}
	if n := wireRuns.Load(); n != 0 {
		t.Fatalf("the function ran %d times on refused chunks", n)
	}
	good := mustEncode(t, wire.ChunkRequest[wideItem]{Items: []wideItem{{AVeryLongFieldNameNumberOne: 5}}, InType: wireWide.shapes.wireIn, OutType: out})
	if _, err := f.RunChunk(context.Background(), good, "w1"); err != nil || wireRuns.Load() != 1 {
		t.Fatalf("a chunk of the right shapes: %v, %d runs", err, wireRuns.Load())
	}
}
