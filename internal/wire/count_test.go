package wire

import "testing"

// TestChunkStartAndResultItems read a chunk's first index and a result's
// item count off the encoded messages, for every integer and array size
// msgpack uses, and refuse what is not a chunk or a result.
func TestChunkStartAndResultItems(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 127, 128, 255, 256, 65535, 65536, 1 << 20} {
		chunk, err := Encode(ChunkRequest[int64]{Start: n, Items: []int64{1}})
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := ChunkStart(chunk); !ok || got != n {
			t.Errorf("ChunkStart of a chunk starting at %d = %d, %v", n, got, ok)
		}
		if n > 100_000 {
			continue
		}
		result, err := Encode(ChunkResult[int64]{Items: make([]int64, n)})
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := ResultItems(result); !ok || got != n {
			t.Errorf("ResultItems of %d items = %d, %v", n, got, ok)
		}
	}
	if nilItems, err := Encode(ChunkResult[int64]{}); err != nil {
		t.Fatal(err)
	} else if got, ok := ResultItems(nilItems); !ok || got != 0 {
		t.Errorf("ResultItems of a nil slice = %d, %v", got, ok)
	}
	for _, bad := range [][]byte{nil, {version}, {version, 0x95}, {1, 0x95, 0}, {version, 0x91, 0xdc, 0}, []byte("not a chunk")} {
		if _, ok := ChunkStart(bad); ok {
			t.Errorf("ChunkStart(%q) ok", bad)
		}
		if _, ok := ResultItems(bad); ok {
			t.Errorf("ResultItems(%q) ok", bad)
		}
	}
}
