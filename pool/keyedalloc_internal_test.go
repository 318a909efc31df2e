package pool

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/glimpse-go/glimpse/internal/wire"
)

// distinctTexts are n texts whose words are distinct words words in all,
// each text a run of them separated by spaces.
func distinctTexts(n, words int) []string {
	texts := make([]string, n)
	for i := range texts {
		var b strings.Builder
		for w := i; w < words; w += n {
			fmt.Fprintf(&b, "w%05d ", w)
		}
		texts[i] = b.String()
	}
	return texts
}

// within says whether s's bytes lie in b's memory.
func within(s string, b []byte) bool {
	if len(s) == 0 || len(b) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(&b[0]))
	return p >= lo && p < lo+uintptr(len(b))
}

// withinAny says whether s's bytes lie in one of texts' memory.
func withinAny(s string, texts []string) bool {
	for _, t := range texts {
		if within(s, unsafe.Slice(unsafe.StringData(t), len(t))) {
			return true
		}
	}
	return false
}

// splitWords is a keyed map function: each space-separated word of a
// text, counted once (with no allocation of its own).
func splitWords[K ~string](_ context.Context, text string, emit func(K, int)) error {
	for text != "" {
		var w string
		w, text, _ = strings.Cut(text, " ")
		if w != "" {
			emit(K(w), 1)
		}
	}
	return nil
}

func plus(a, b int) int { return a + b }

// A worker's fold of a chunk copies the keys it keeps into blocks, not
// one allocation each (plus one to box each copy, as it was): 4,000
// distinct words cost a handful of allocations, and no key keeps its
// item alive, whatever K's name.
func TestKeyedFoldAllocatesPerBlockNotPerKey(t *testing.T) {
	texts := distinctTexts(100, 4000)
	k := &keyedFolder[string, string, int]{fn: splitWords[string], combine: plus}
	allocs := testing.AllocsPerRun(5, func() {
		if _, _, te := k.fold(context.Background(), texts, 0, 0); te != nil {
			t.Fatal(te)
		}
	})
	t.Logf("%.0f allocations", allocs)
	if allocs > 100 {
		t.Errorf("a fold of 4,000 distinct keys made %.0f allocations, want at most 100", allocs)
	}
	tab, _, _ := k.fold(context.Background(), texts, 0, 0)
	if len(tab.keys) != 4000 {
		t.Fatalf("%d keys, want 4000", len(tab.keys))
	}

	type word string // a named string type: its keys are copied too
	kw := &keyedFolder[string, word, int]{fn: splitWords[word], combine: plus}
	tw, _, _ := kw.fold(context.Background(), texts, 0, 0)
	for i, key := range tw.keys {
		if withinAny(string(key), texts) || withinAny(tab.keys[i], texts) {
			t.Fatalf("key %q is a substring of its item, which it keeps alive", key)
		}
	}
}

// stringItems echoes its string items: a map whose chunks hold strings.
var stringItems = Register("test.internal.stringitems", func(_ context.Context, s string) (string, error) { return s, nil })

// A worker decodes a chunk of string items in place: the items are the
// chunk's own bytes, not copies, so a chunk of 2,000 texts costs a few
// allocations, not 2,000 (nor a second copy of its megabytes).
func TestChunkStringItemsDecodeInPlace(t *testing.T) {
	items := distinctTexts(2000, 20000)
	items = append(items, "", strings.Repeat("long ", 20000)) // empty, and a str32
	sh := stringItems.shapes
	payload, err := wire.Encode(wire.ChunkRequest[string]{Items: items, InType: sh.wireIn, OutType: sh.wireOut})
	if err != nil {
		t.Fatal(err)
	}
	reg := registered[string, string]{stringItems}
	allocs := testing.AllocsPerRun(5, func() {
		if _, te := reg.decodeChunk(payload); te != nil {
			t.Fatal(te)
		}
	})
	t.Logf("%.0f allocations", allocs)
	if allocs > 20 {
		t.Errorf("decoding a chunk of %d strings made %.0f allocations, want at most 20", len(items), allocs)
	}
	msg, te := reg.decodeChunk(payload)
	if te != nil {
		t.Fatal(te)
	}
	got := msg.Items.items
	if len(got) != len(items) {
		t.Fatalf("%d items, want %d", len(got), len(items))
	}
	for i, s := range got {
		if s != items[i] {
			t.Fatalf("item %d: %.20q, want %.20q", i, s, items[i])
		}
		if s != "" && !within(s, payload) {
			t.Fatalf("item %d is a copy, not the chunk's bytes", i)
		}
	}
}

// The client reads a table's keys in place, from the message it came in,
// and merges a table whose keys it has without an allocation per key; the
// keys it keeps are its own copies, so the merged table does not keep the
// later chunks' messages alive.
func TestKeyedMergeCopiesOnlyNewKeys(t *testing.T) {
	k := &keyedFolder[string, string, int]{fn: splitWords[string], combine: plus}
	encodeTable := func(texts []string) []byte {
		tab, _, te := k.fold(context.Background(), texts, 0, 0)
		if te != nil {
			t.Fatal(te)
		}
		data, err := wire.Encode(wire.ChunkResult[table[string, int]]{Items: []table[string, int]{tab}})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	decode := func(data []byte) table[string, int] {
		var res wire.ChunkResult[table[string, int]]
		if err := wire.Decode(data, &res); err != nil {
			t.Fatal(err)
		}
		return res.Items[0]
	}
	first, again := encodeTable(distinctTexts(10, 3000)), encodeTable(distinctTexts(10, 3000))
	acc := k.merge(decode(first), decode(encodeTable([]string{"new"})))
	allocs := testing.AllocsPerRun(5, func() { acc = k.merge(acc, decode(again)) })
	t.Logf("%.0f allocations", allocs)
	if allocs > 20 {
		t.Errorf("decoding and merging a table of 3,000 known keys made %.0f allocations, want at most 20", allocs)
	}

	later := encodeTable([]string{"later words"})
	acc = k.merge(acc, decode(later))
	clear(later) // what the merged table kept must not be this message
	got := acc.mapped().m
	if got["later"] != 1 || got["words"] != 1 || got["new"] != 1 || got["w00000"] != 7 || len(got) != 3003 {
		t.Fatalf("merged table: later %d, words %d, new %d, w00000 %d, %d keys; want 1, 1, 1, 7, 3003",
			got["later"], got["words"], got["new"], got["w00000"], len(got))
	}
}

// A table of word counts decodes into slices made once for all of its
// keys (bounded by the message's bytes, not by a hostile header), with
// its keys and counts read straight from the message.
func TestTableDecodesInOneGo(t *testing.T) {
	k := &keyedFolder[string, string, int]{fn: splitWords[string], combine: plus}
	tab, _, te := k.fold(context.Background(), distinctTexts(10, 20000), 0, 0)
	if te != nil {
		t.Fatal(te)
	}
	data, err := wire.Encode(wire.ChunkResult[table[string, int]]{Items: []table[string, int]{tab}})
	if err != nil {
		t.Fatal(err)
	}
	var res wire.ChunkResult[table[string, int]]
	allocs := testing.AllocsPerRun(5, func() {
		if err := wire.Decode(data, &res); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%.0f allocations", allocs)
	if allocs > 10 {
		t.Errorf("decoding a table of 20,000 keys made %.0f allocations, want at most 10", allocs)
	}
	if got := res.Items[0]; len(got.keys) != 20000 || got.keys[19999] != tab.keys[19999] || got.vals[19999] != 1 {
		t.Fatalf("decoded %d keys, the last %q: %d", len(got.keys), got.keys[len(got.keys)-1], got.vals[len(got.vals)-1])
	}
}
