package pool

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// countWith adds each key with value 1 through a worker's table adder
// (the stringIndex one, for string keys) and returns the table's counts.
func countWith(keys []string, sizeHint int) map[string]int {
	var t table[string, int]
	add := t.adder(func(a, b int) int { return a + b }, sizeHint)
	for _, k := range keys {
		add(k, 1)
	}
	got := make(map[string]int, len(t.keys))
	for i, k := range t.keys {
		if _, twice := got[k]; twice {
			got[k+"\x00twice"] = 1 // a key added as new twice: fails the comparison
		}
		got[k] = t.vals[i]
	}
	return got
}

// adversarialKeys are keys a hash table gets wrong if it compares too
// little (the empty key, prefixes of each other, one byte apart, long
// keys equal but at the end, NUL bytes) and enough distinct ones to grow
// the index several times from its smallest size.
func adversarialKeys() []string {
	long := strings.Repeat("x", 4096)
	keys := []string{"", "", "a", "a\x00", "\x00", "\x00\x00", long + "a", long + "b", long + "a", long}
	for i := range 3 * minIndexSlots {
		keys = append(keys, strings.Repeat("k", i%40)+strconv.Itoa(i), strings.Repeat("k", i%40))
	}
	for c := range 256 {
		keys = append(keys, "same prefix "+string(rune(c)), string([]byte{byte(c)}))
	}
	return keys
}

// A worker's table of string keys counts as a Go map does, on random
// keys drawn with repeats (few and many distinct, short and long) and on
// adversarial ones, from any size hint.
func TestStringIndexCountsAsMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := [][]string{adversarialKeys()}
	for _, distinct := range []int{1, 10, 1000, 100_000} {
		keys := make([]string, 200_000)
		for i := range keys {
			n := rng.IntN(distinct)
			keys[i] = strconv.Itoa(n) + strings.Repeat("w", n%17)
		}
		inputs = append(inputs, keys)
	}
	for i, keys := range inputs {
		want := map[string]int{}
		for _, k := range keys {
			want[k]++
		}
		for _, hint := range []int{0, 1, len(want), 1 << 20} {
			got := countWith(keys, hint)
			if len(got) != len(want) {
				t.Fatalf("input %d, hint %d: %d keys, want %d", i, hint, len(got), len(want))
			}
			for k, n := range want {
				if got[k] != n {
					t.Fatalf("input %d, hint %d: %.20q counted %d, want %d", i, hint, k, got[k], n)
				}
			}
		}
	}
}

// The table keeps copies of its keys, not the strings it was given.
func TestStringIndexCopiesKeys(t *testing.T) {
	buf := []byte("alpha")
	var tb table[string, int]
	add := tb.adder(func(a, b int) int { return a + b }, 0)
	add(string(buf[:5]), 1)
	copy(buf, "omega")
	add("alpha", 1)
	if len(tb.keys) != 1 || tb.keys[0] != "alpha" || tb.vals[0] != 2 {
		t.Fatalf("table %q %v, want [alpha] [2]", tb.keys, tb.vals)
	}
}

// BenchmarkStringAdder is a worker's table counting words drawn as a
// text's are (a few frequent, many rare); BenchmarkStringMapCount the
// same with a Go map.
func BenchmarkStringAdder(b *testing.B) {
	words := zipfWords()
	for b.Loop() {
		var t table[string, int]
		add := t.adder(func(a, b int) int { return a + b }, 0)
		for _, w := range words {
			add(w, 1)
		}
	}
}

func BenchmarkStringMapCount(b *testing.B) {
	words := zipfWords()
	for b.Loop() {
		m := make(map[string]int, 256)
		for _, w := range words {
			m[w]++
		}
	}
}

// zipfWords are the words of this repository's Go sources, as a word
// count's map function emits them (a few frequent, many rare).
func zipfWords() []string {
	var words []string
	filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") {
			data, _ := os.ReadFile(path)
			words = append(words, strings.FieldsFunc(strings.ToLower(string(data)), func(r rune) bool { return !unicode.IsLetter(r) })...)
		}
		return nil
	})
	return words
}

// A reduce of items of varying size over an input of known length aims
// at foldedChunksPerSlot chunks per slot, in chunks of
// minFoldedChunkBytes to targetFoldedBytes; of unknown length, at
// targetFoldedBytes.
func TestFoldedTargetBytes(t *testing.T) {
	for _, c := range []struct {
		total          int
		perItem        int64
		slots          int
		wantMinChunks  int // at least this many chunks
		wantChunkBytes int // exactly, when not 0
	}{
		{total: 2890, perItem: 5050, slots: 2, wantMinChunks: 16},          // the bench's files
		{total: 410_885, perItem: 36, slots: 2, wantMinChunks: 16},         // its lines
		{total: 100_000, perItem: 1000, slots: 4, wantMinChunks: 32},       // 100 MB on 4 slots
		{total: 1000, perItem: 100, slots: 2, wantChunkBytes: 64 << 10},    // 100 kB: chunks no smaller
		{total: 1 << 20, perItem: 1000, slots: 2, wantChunkBytes: 1 << 20}, // 1 GB: no larger
		{total: -1, perItem: 100, slots: 2, wantChunkBytes: 1 << 20},       // a stream
	} {
		got := foldedTargetBytes(c.total, c.perItem, c.slots)
		chunks := (int64(c.total)*c.perItem + int64(got) - 1) / int64(got)
		if c.wantChunkBytes != 0 && got != c.wantChunkBytes {
			t.Errorf("%+v: chunks of %d bytes, want %d", c, got, c.wantChunkBytes)
		}
		if chunks < int64(c.wantMinChunks) {
			t.Errorf("%+v: chunks of %d bytes, %d chunks, want at least %d", c, got, chunks, c.wantMinChunks)
		}
	}
}
