package pool

import (
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// wholeFiles are texts of very different lengths, as a word count over
// whole files sends: a few bytes to hundreds of KB.
func wholeFiles() []string {
	sizes := []int{3, 31, 32, 200, 255, 256, 4000, 65535, 65536, 300 << 10, 17, 90 << 10}
	files := make([]string, len(sizes))
	for i, n := range sizes {
		files[i] = strings.Repeat("w ", n/2+1)[:n]
	}
	return files
}

// encodeCostOf encodes a chunk of items as a map sends it, after the
// map's sizer saw earlier items, and returns the payload with the bytes
// and allocations encoding it took.
func encodeCostOf[In any](t *testing.T, earlier, items []In) (payload []byte, bytes uint64, allocs float64) {
	t.Helper()
	sh, err := newShapes(reflect.TypeFor[In](), reflect.TypeFor[int]())
	if err != nil {
		t.Fatal(err)
	}
	m := &mapRun[In, int]{p: &Pool{}, f: Func[In, int]{name: "chunkbuffer", shapes: sh}, sizer: newChunkSizer[In]()}
	for _, item := range earlier {
		m.sizer.add(item)
	}
	c := &chunkCall[In, int]{m: m, f: &flight[In]{items: items}}
	encode := func() {
		if payload, err = c.encode(); err != nil {
			t.Fatal(err)
		}
	}
	allocs = testing.AllocsPerRun(5, encode)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	encode()
	runtime.ReadMemStats(&after)
	return payload, after.TotalAlloc - before.TotalAlloc, allocs
}

// A chunk of strings or byte slices is encoded into one buffer allocated
// once at its exact size, whatever the sizes of the map's earlier items:
// the running mean alone came up short for a chunk of larger items than
// the map's average, and the buffer was regrown (copied) several times.
func TestChunkOfTextsEncodedIntoOneExactBuffer(t *testing.T) {
	files := wholeFiles()
	small := make([]string, 500)
	for i := range small {
		small[i] = "a few words"
	}
	t.Run("strings", func(t *testing.T) {
		checkOneExactBuffer(t, small, files)
	})
	t.Run("bytes", func(t *testing.T) {
		var smallBytes, fileBytes [][]byte
		for _, s := range small {
			smallBytes = append(smallBytes, []byte(s))
		}
		for _, f := range files {
			fileBytes = append(fileBytes, []byte(f))
		}
		checkOneExactBuffer(t, smallBytes, fileBytes)
	})
}

func checkOneExactBuffer[In any](t *testing.T, earlier, items []In) {
	payload, bytes, allocs := encodeCostOf(t, earlier, items)
	t.Logf("payload %d bytes, capacity %d; encoding allocated %d bytes in %.0f allocations", len(payload), cap(payload), bytes, allocs)
	if spare := cap(payload) - len(payload); spare > 64 {
		t.Errorf("the chunk's buffer has %d bytes of spare capacity (payload %d): want its exact size", spare, len(payload))
	}
	// One buffer of the payload's size (rounded up to whole pages), and
	// the encoder's few small allocations; a regrown buffer costs a copy
	// of at least a quarter more per growth.
	if limit := uint64(len(payload)) * 9 / 8; bytes > limit {
		t.Errorf("encoding a %d-byte chunk allocated %d bytes, want at most %d (one buffer)", len(payload), bytes, limit)
	}
}
