package wire

import (
	"errors"
	"reflect"
	"runtime"
	"testing"
)

type point struct {
	X, Y int64
	Tags []string
}

// TestCheckChunkEstimate: the estimate of what decoding allocates is close
// to what msgpack really allocates (within 0.5x-3x), for the shapes that
// expand most and for plain ones, so a limit set from it means something.
func TestCheckChunkEstimate(t *testing.T) {
	for name, tc := range map[string]chunkCase{
		"1-byte ints into int64": chunkOf[int64](t, make([]int64, 300_000)),
		"empty strings":          chunkOf[string](t, make([]string, 300_000)),
		"small ints into any":    chunkOf[any](t, anys(150_000)),
		"empty slices into [][]": chunkOf[[]int](t, make([][]int, 100_000)),
		"structs":                chunkOf[point](t, make([]point, 60_000)),
		"pointers to structs":    chunkOf[*point](t, ptrs(100_000)),
		"small maps":             chunkOf[map[string]int64](t, maps(20_000)),
		"1 KB strings":           chunkOf[string](t, strs(5_000, 1000)),
	} {
		est := estimated(t, tc.payload, tc.item)
		real := allocated(t, tc)
		ratio := float64(est) / float64(real)
		t.Logf("%s: %d-byte payload, estimate %d (%.1fx), allocated %d (%.1fx)", name, len(tc.payload),
			est, float64(est)/float64(len(tc.payload)), real, float64(real)/float64(len(tc.payload)))
		if ratio < 0.5 || ratio > 3 {
			t.Errorf("%s: estimate %d bytes, decoding allocated %d", name, est, real)
		}
	}
}

func anys(n int) []any {
	xs := make([]any, n)
	for i := range xs {
		xs[i] = int64(i % 100)
	}
	return xs
}

func ptrs(n int) []*point {
	xs := make([]*point, n)
	for i := range xs {
		xs[i] = &point{X: 1}
	}
	return xs
}

func maps(n int) []map[string]int64 {
	xs := make([]map[string]int64, n)
	for i := range xs {
		xs[i] = map[string]int64{"a": 1}
	}
	return xs
}

func strs(n, size int) []string {
	xs := make([]string, n)
	for i := range xs {
		xs[i] = string(make([]byte, size))
	}
	return xs
}

type chunkCase = struct {
	payload []byte
	decode  func([]byte) error
	item    reflect.Type
}

func chunkOf[T any](t *testing.T, items []T) chunkCase {
	data, err := Encode(ChunkRequest[T]{InType: "x", OutType: "y", Items: items})
	if err != nil {
		t.Fatal(err)
	}
	return chunkCase{data, func(p []byte) error { return Decode(p, &ChunkRequest[T]{}) }, reflect.TypeFor[T]()}
}

// estimated is CheckChunk's estimate, which a LimitError reports (the
// payloads are large enough to be over MinExpansionBudget).
func estimated(t *testing.T, payload []byte, item reflect.Type) uint64 {
	var le *LimitError
	if err := CheckChunk(payload, item, Limits{MaxExpansion: 1}); !errors.As(err, &le) {
		t.Fatalf("CheckChunk: %v, want a *LimitError", err)
	}
	return uint64(le.Value)
}

func allocated(t *testing.T, c chunkCase) uint64 {
	t.Helper()
	if err := c.decode(c.payload); err != nil { // warms the decoder pool too
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := c.decode(c.payload); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestCheckChunkLimits: a chunk over max_chunk_items or max_expansion is
// refused with a *LimitError naming the limit; a chunk within them, a
// small chunk of a costly shape, and a payload that is no chunk pass.
func TestCheckChunkLimits(t *testing.T) {
	ints := chunkOf[int64](t, make([]int64, 1_000_000)).payload // 1 MB, 16 MB decoded
	for name, tc := range map[string]struct {
		payload []byte
		lim     Limits
		want    string // the limit named, "" for none
	}{
		"items over":         {ints, Limits{MaxItems: 999_999}, LimitChunkItems},
		"items at":           {ints, Limits{MaxItems: 1_000_000, MaxExpansion: 16}, ""},
		"expansion over":     {ints, Limits{MaxExpansion: 8}, LimitExpansion},
		"small costly chunk": {chunkOf[map[string]int64](t, maps(1000)).payload, Limits{MaxExpansion: 1}, ""},
		"not a chunk":        {[]byte("\x02garbage"), Limits{MaxItems: 1, MaxExpansion: 1}, ""},
		"another version":    {append([]byte{1}, ints[1:]...), Limits{MaxItems: 1}, ""},
	} {
		err := CheckChunk(tc.payload, reflect.TypeFor[int64](), tc.lim)
		var le *LimitError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want no error", name, err)
		case tc.want != "" && (!errors.As(err, &le) || le.Limit != tc.want):
			t.Errorf("%s: %v, want a *LimitError for %s", name, err, tc.want)
		case tc.want != "":
			t.Logf("%s: %v", name, err)
		}
	}
}
