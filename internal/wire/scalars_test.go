package wire

import (
	"bytes"
	"math"
	"slices"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// Named slice types are not registered: msgpack encodes and decodes them
// element by element, as it did []int64 and []float64 before the fast
// path. They are the reference the fast path must match byte for byte.
type (
	genericInt64s   []int64
	genericFloat64s []float64
)

// genericEncode is what Encode wrote before scalars.go: msgpack with
// compact ints, into a buffer that is not Encode's own.
func genericEncode(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteByte(version)
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var int64Cases = [][]int64{
	nil,
	{},
	{0},
	{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64,
		-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, math.MinInt64},
	func() []int64 { // past a 16-bit array header
		xs := make([]int64, 70_000)
		for i := range xs {
			xs[i] = int64(i*i) - 1_000_000 // negative, then growing
		}
		return xs
	}(),
}

var float64Cases = [][]float64{
	nil,
	{},
	{0, math.Copysign(0, -1), 1.5, -2.25, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1)},
	make([]float64, 20),
}

// TestScalarSlicesSameWireBytes: the fast path writes the bytes that
// msgpack writes, and reads back what msgpack reads, both ways.
func TestScalarSlicesSameWireBytes(t *testing.T) {
	for _, xs := range int64Cases {
		fast, err := Encode(ChunkRequest[int64]{Start: 3, InType: "int64", Items: xs})
		if err != nil {
			t.Fatal(err)
		}
		ref := genericEncode(t, ChunkMessage[genericInt64s]{Start: 3, InType: "int64", Items: genericInt64s(xs)})
		if !bytes.Equal(fast, ref) {
			t.Fatalf("%d int64s: fast path wrote %d bytes, msgpack %d; first difference at %d", len(xs), len(fast), len(ref), firstDiff(fast, ref))
		}
		var got ChunkRequest[int64]
		if err := Decode(ref, &got); err != nil {
			t.Fatal(err)
		}
		var want ChunkMessage[genericInt64s]
		if err := Decode(ref, &want); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Items, want.Items) || (got.Items == nil) != (want.Items == nil) {
			t.Fatalf("%d int64s: fast decode differs from msgpack's (nil %v, %v)", len(xs), got.Items == nil, want.Items == nil)
		}
		if !slices.Equal(got.Items, xs) {
			t.Fatalf("%d int64s: round trip differs", len(xs))
		}
	}
	for _, xs := range float64Cases {
		fast, err := Encode(ChunkResult[float64]{Items: xs})
		if err != nil {
			t.Fatal(err)
		}
		ref := genericEncode(t, struct {
			_msgpack struct{} `msgpack:",as_array"`
			Items    genericFloat64s
		}{Items: xs})
		if !bytes.Equal(fast, ref) {
			t.Fatalf("%d float64s: fast path wrote %x, msgpack %x", len(xs), fast, ref)
		}
		var got ChunkResult[float64]
		if err := Decode(ref, &got); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Items, xs) || (got.Items == nil) != (xs == nil) {
			t.Fatalf("%d float64s: round trip gave %v", len(xs), got.Items)
		}
	}
}

// TestScalarSlicesDecodeOtherCodes: an int64 slice sent by another
// encoder (9-byte ints) decodes as msgpack decodes it; what msgpack
// refuses in an []int64 (a float), the fast path refuses too.
func TestScalarSlicesDecodeOtherCodes(t *testing.T) {
	var buf bytes.Buffer
	buf.WriteByte(version)
	enc := msgpack.NewEncoder(&buf) // no compact ints: every int64 in 9 bytes
	enc.EncodeArrayLen(4)
	enc.EncodeInt64(-5)
	enc.EncodeUint64(7)
	enc.EncodeInt16(2)
	enc.EncodeInt8(-3)
	var got []int64
	if err := Decode(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	var want genericInt64s
	if err := Decode(buf.Bytes(), &want); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) || !slices.Equal(got, []int64{-5, 7, 2, -3}) {
		t.Fatalf("got %v, msgpack %v", got, want)
	}
	withFloat := append(bytes.Clone(buf.Bytes()[:2]), 0xcb, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3)
	errFast, errRef := Decode(withFloat, &got), Decode(withFloat, &want)
	if errFast == nil || errRef == nil {
		t.Fatalf("a float among int64s: fast path %v, msgpack %v; want both to refuse it", errFast, errRef)
	}
	// A count the message cannot hold is refused before anything is
	// allocated (the walk refuses it first; the fast path checks too).
	if err := Decode([]byte{version, 0xdd, 0x7f, 0xff, 0xff, 0xff, 1}, &got); err == nil {
		t.Fatal("a 2G-value array in one byte decoded")
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

type genericBlobs [][]byte

// TestByteSlicesDecodeInPlace: [][]byte decodes as msgpack decodes it
// (bin of every length class, str, nil, empty), with each bin item a
// slice of the message rather than a copy, capped at its own end.
func TestByteSlicesDecodeInPlace(t *testing.T) {
	items := [][]byte{nil, {}, []byte("ab"), bytes.Repeat([]byte{1}, 300), bytes.Repeat([]byte{2}, 70_000)}
	msg, err := Encode(ChunkResult[[]byte]{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	withStr := genericEncode(t, []any{"text", []byte("bin")})
	for _, data := range [][]byte{msg, withStr} {
		var got ChunkResult[[]byte]
		var want struct {
			_msgpack struct{} `msgpack:",as_array"`
			Items    genericBlobs
		}
		errGot := Decode(data, &got)
		errWant := Decode(data, &want)
		if data[1] == 0x92 { // withStr: a bare array, not a ChunkResult
			var gb [][]byte
			var wb genericBlobs
			errGot, errWant = Decode(data, &gb), Decode(data, &wb)
			got.Items, want.Items = gb, wb
		}
		if errGot != nil || errWant != nil {
			t.Fatalf("decode: %v, msgpack: %v", errGot, errWant)
		}
		if len(got.Items) != len(want.Items) {
			t.Fatalf("%d items, msgpack %d", len(got.Items), len(want.Items))
		}
		for i := range got.Items {
			if !bytes.Equal(got.Items[i], want.Items[i]) || (got.Items[i] == nil) != (want.Items[i] == nil) {
				t.Fatalf("item %d: %q (nil %v), msgpack %q (nil %v)", i, got.Items[i], got.Items[i] == nil, want.Items[i], want.Items[i] == nil)
			}
		}
	}
	var got ChunkResult[[]byte]
	if err := Decode(msg, &got); err != nil {
		t.Fatal(err)
	}
	last := got.Items[len(got.Items)-1]
	if cap(last) != len(last) {
		t.Fatalf("an in-place item has room past its end: len %d cap %d", len(last), cap(last))
	}
	msg[len(msg)-1] = 9 // the last item's last byte, in the message
	if last[len(last)-1] != 9 {
		t.Fatal("a large bin item was copied, not sliced from the message")
	}
}
