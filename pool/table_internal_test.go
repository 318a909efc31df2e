package pool

import (
	"maps"
	"testing"
)

// A table whose message held a key twice is merged as the map it
// decodes to (the key's last value), for string keys (a stringIndex)
// and others (a map index) alike.
func TestMergeTableWithKeySentTwice(t *testing.T) {
	sum := func(a, b int) int { return a + b }
	strs := &keyedFolder[string, string, int]{combine: sum}
	got := strs.merge(table[string, int]{keys: []string{"a", "b", "a"}, vals: []int{1, 2, 3}},
		table[string, int]{keys: []string{"a", "c"}, vals: []int{10, 20}}).mapped().m
	if want := map[string]int{"a": 13, "b": 2, "c": 20}; !maps.Equal(got, want) {
		t.Errorf("string keys: %v, want %v", got, want)
	}
	ints := &keyedFolder[string, int, int]{combine: sum}
	gotInts := ints.merge(table[int, int]{keys: []int{1, 2, 1}, vals: []int{1, 2, 3}},
		table[int, int]{keys: []int{1, 3}, vals: []int{10, 20}}).mapped().m
	if want := map[int]int{1: 13, 2: 2, 3: 20}; !maps.Equal(gotInts, want) {
		t.Errorf("int keys: %v, want %v", gotInts, want)
	}
}
