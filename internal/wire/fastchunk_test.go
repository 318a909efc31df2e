package wire

import (
	"bytes"
	"slices"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func yes(string, string) bool { return true }

// TestDecodeScalarChunkAsDecode: the fast chunk reader reads what Decode
// reads from a chunk of int64 or float64 items, and leaves what it does
// not take (other codes, bytes left over, short messages) to Decode.
func TestDecodeScalarChunkAsDecode(t *testing.T) {
	for _, xs := range int64Cases {
		msg, _ := Encode(ChunkRequest[int64]{Start: 1 << 40, TaskTimeout: -7, InType: "int64", OutType: "fold int64 into int64", Items: xs})
		var fast, ref ChunkRequest[int64]
		if !DecodeScalarChunk(msg, &fast, yes) {
			t.Fatalf("%d int64s: not taken", len(xs))
		}
		if err := Decode(msg, &ref); err != nil {
			t.Fatal(err)
		}
		if fast.Start != ref.Start || fast.TaskTimeout != ref.TaskTimeout || fast.InType != ref.InType || fast.OutType != ref.OutType ||
			!slices.Equal(fast.Items, ref.Items) || (fast.Items == nil) != (ref.Items == nil) {
			t.Fatalf("%d int64s: fast %+v, Decode %+v", len(xs), fast.Start, ref.Start)
		}
	}
	for _, xs := range float64Cases {
		msg, _ := Encode(ChunkRequest[float64]{Start: 5, InType: "float64", Items: xs})
		var fast, ref ChunkRequest[float64]
		if !DecodeScalarChunk(msg, &fast, yes) {
			t.Fatalf("%d float64s: not taken", len(xs))
		}
		if err := Decode(msg, &ref); err != nil {
			t.Fatal(err)
		}
		if fast.Start != 5 || !slices.Equal(fast.Items, ref.Items) || (fast.Items == nil) != (ref.Items == nil) {
			t.Fatalf("%d float64s: fast %v, Decode %v", len(xs), fast.Items, ref.Items)
		}
	}
}

// TestDecodeScalarChunkLeavesTheRest: what the fast reader does not take
// it leaves untouched, and a chunk whose shapes disagree gets no items.
func TestDecodeScalarChunkLeavesTheRest(t *testing.T) {
	good, _ := Encode(ChunkRequest[int64]{InType: "int64", Items: []int64{1, 300, -5}})
	var nine bytes.Buffer // 9-byte ints, then a float among them
	nine.WriteByte(version)
	enc := msgpack.NewEncoder(&nine)
	enc.EncodeArrayLen(5)
	enc.EncodeInt(0)
	enc.EncodeInt(0)
	enc.EncodeString("int64")
	enc.EncodeString("")
	enc.EncodeArrayLen(2)
	enc.EncodeInt64(3)
	enc.EncodeFloat64(1.5)
	cases := map[string][]byte{
		"trailing byte":  append(bytes.Clone(good), 0),
		"short":          good[:len(good)-1],
		"float item":     nine.Bytes(),
		"other version":  append([]byte{version + 1}, good[1:]...),
		"count too high": append(bytes.Clone(good[:len(good)-5]), 0xdd, 0x7f, 0xff, 0xff, 0xff),
		"empty":          {},
	}
	for name, data := range cases {
		msg := ChunkRequest[int64]{Start: 42}
		if DecodeScalarChunk(data, &msg, yes) || msg.Start != 42 {
			t.Errorf("%s: taken (start %d)", name, msg.Start)
		}
	}
	var msg ChunkRequest[int64]
	if !DecodeScalarChunk(good, &msg, func(in, _ string) bool { return in == "other" }) || msg.Items != nil || msg.InType != "int64" {
		t.Fatalf("shapes that disagree: %+v", msg)
	}
}

// FuzzDecodeScalarChunk: what the fast chunk reader takes, Decode takes
// too, with the same values; it never panics on any bytes.
func FuzzDecodeScalarChunk(f *testing.F) {
	for _, xs := range int64Cases[:4] {
		msg, _ := Encode(ChunkRequest[int64]{Start: 2, InType: "int64", Items: xs})
		f.Add(msg)
	}
	msg, _ := Encode(ChunkRequest[float64]{Items: []float64{1.5, -2}})
	f.Add(msg)
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast, ref ChunkRequest[int64]
		if DecodeScalarChunk(data, &fast, yes) {
			if err := Decode(data, &ref); err != nil {
				t.Fatalf("fast reader took %x, Decode refused it: %v", data, err)
			}
			if fast.Start != ref.Start || fast.TaskTimeout != ref.TaskTimeout || fast.InType != ref.InType ||
				fast.OutType != ref.OutType || !slices.Equal(fast.Items, ref.Items) || (fast.Items == nil) != (ref.Items == nil) {
				t.Fatalf("%x: fast %+v, Decode %+v", data, fast, ref)
			}
		}
		var ff, rf ChunkRequest[float64]
		if DecodeScalarChunk(data, &ff, yes) {
			if err := Decode(data, &rf); err != nil {
				t.Fatalf("fast reader took %x as floats, Decode refused it: %v", data, err)
			}
			if !slices.Equal(ff.Items, rf.Items) && !slices.ContainsFunc(ff.Items, func(x float64) bool { return x != x }) {
				t.Fatalf("%x: fast %v, Decode %v", data, ff.Items, rf.Items)
			}
		}
	})
}
