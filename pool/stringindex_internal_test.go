package pool

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// indexPlaces places keys in a fresh index, as a table does, and checks
// each place against a map's.
func indexPlaces(t testing.TB, x *stringIndex, keys []string) {
	t.Helper()
	var stored []string
	want := map[string]int{}
	keyAt := func(i int) string { return stored[i] }
	for _, k := range keys {
		at, added := x.place(k, keyAt)
		w, in := want[k]
		switch {
		case in && (added || at != w):
			t.Fatalf("key %q placed at %d (added %v), want its place %d", k, at, added, w)
		case !in && (!added || at != len(stored)):
			t.Fatalf("new key %q placed at %d (added %v), want %d added", k, at, added, len(stored))
		case !in:
			want[k] = at
			stored = append(stored, strings.Clone(k))
		}
	}
	if len(x.entries) != len(want) {
		t.Fatalf("index holds %d keys, want %d", len(x.entries), len(want))
	}
}

// Keys that share their words' bytes but not their length, or differ in
// a byte only the middle, the first or the last word covers, and keys
// longer than a slot holds that share their first and last 8 bytes, are
// told apart; the same keys again are found; growing keeps every place.
func TestStringIndexTellsKeysApart(t *testing.T) {
	keys := []string{"", "a", "b", "ab", "ba", "abc", "axc", "abx", "xbc", "a\x00", "\x00a", "\x00",
		"abcd", "abce", "abcdefg", "abcxefg", "abcdefgh", "abcdefgi", "xbcdefgh",
		"abcdefghijklmnop", "abcdefghXjklmnop", "abcdefgXijklmnop", "abcdefghijklmnoq",
		"abcdefgh-middle-1-ijklmnop", "abcdefgh-middle-2-ijklmnop", "abcdefgh-middle-22-ijklmnop"}
	for i := range 5000 { // many growths from 16 slots
		keys = append(keys, fmt.Sprintf("w%d", i), strings.Repeat("long", 1+i%7)+fmt.Sprint(i))
	}
	all := append(append([]string{}, keys...), keys...) // each key twice
	indexPlaces(t, newStringIndex(0), all)
}

// An index released and taken again is empty, and places keys anew.
func TestStringIndexReleasedEmpty(t *testing.T) {
	var pool sync.Pool
	x := takeStringIndex(&pool, 100)
	indexPlaces(t, x, []string{"alpha", "beta", "alpha"})
	x.release()
	y := takeStringIndex(&pool, 100)
	if len(y.entries) != 0 || y.slots[0]|y.slots[len(y.slots)-1] != 0 {
		t.Fatalf("an index taken again holds %d keys", len(y.entries))
	}
	indexPlaces(t, y, []string{"gamma", "alpha", "gamma"})
}

// An index grown past maxPooledSlots is not kept for another chunk.
func TestStringIndexTooLargeNotPooled(t *testing.T) {
	var pool sync.Pool
	x := takeStringIndex(&pool, maxPooledSlots)
	if len(x.slots) <= maxPooledSlots {
		t.Fatalf("%d slots for %d keys", len(x.slots), maxPooledSlots)
	}
	x.release()
	if got, _ := pool.Get().(*stringIndex); got == x {
		t.Fatal("an index of more than maxPooledSlots slots went back to the pool")
	}
}

// The index places any keys as a map does.
func FuzzStringIndex(f *testing.F) {
	f.Add("a b a", "")
	f.Add("abcdefgh abcdefgi abcdefgh", "x")
	f.Add("one-two-three-four-five-six five-six", "\x00")
	f.Fuzz(func(t *testing.T, text, sep string) {
		if sep == "" {
			sep = " "
		}
		indexPlaces(t, newStringIndex(0), strings.Split(text, sep))
	})
}

// BenchmarkStringIndex places the words of the corpus of a word count's
// chunk, most of them found again.
func BenchmarkStringIndex(b *testing.B) {
	var words []string
	for i := range 150_000 {
		words = append(words, fmt.Sprintf("w%d", (i*i)%5000))
	}
	var pool sync.Pool
	keyAt := func(int) string { return "" }
	for b.Loop() {
		x := takeStringIndex(&pool, 5000)
		for _, w := range words {
			x.place(w, keyAt)
		}
		x.release()
	}
}
