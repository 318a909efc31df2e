package pool

import (
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
)

// stringIndex finds a string key's position in a worker's keyed table
// (a word count's words): open addressing over a slice of slots, linear
// probing, the table at most half full. A key of up to 7 bytes (most
// words) is held in its slot with its length, so finding it reads one
// slot and compares one word, hashed by a seeded mix of that word; a
// longer key's slot holds its maphash's top 32 bits, its bytes compared
// only when those agree. A Go map[string]int read the key's hash through
// the map's type, its groups' control words, then the key's header and
// bytes elsewhere in memory: a third of a worker's word count. Both
// hashes are seeded per index, so keys chosen to collide cannot be.
type stringIndex struct {
	seed  maphash.Seed // of long keys
	mixed uint64       // seed of short keys
	slots []indexSlot
	mask  uint64
	used  int
}

// indexSlot is a slot of a stringIndex: meta is 0 when empty, else the
// key's position + 1 in the low 32 bits, and for a long key its hash's
// top 32 bits above; word is a short key's bytes and length (shortWord),
// 0 for a long key.
type indexSlot struct {
	meta, word uint64
}

// maxShortKey is the longest key held in its slot.
const maxShortKey = 7

// minIndexSlots is the smallest index made.
const minIndexSlots = 1 << 9

// newStringIndex returns an index with room for about sizeHint keys
// before it grows.
func newStringIndex(sizeHint int) *stringIndex {
	n := max(minIndexSlots, 1<<bits.Len(uint(2*sizeHint)))
	return &stringIndex{seed: maphash.MakeSeed(), mixed: rand.Uint64(), slots: make([]indexSlot, n), mask: uint64(n - 1)}
}

// shortWord is a key of up to maxShortKey bytes as a slot holds it: its
// bytes, and its length + 1 in the top byte (so no key's word is 0).
func shortWord(key string) uint64 {
	w := uint64(len(key)+1) << 56
	for i := 0; i < len(key); i++ {
		w |= uint64(key[i]) << (8 * i)
	}
	return w
}

// mix64 is a bijective mix of x's bits (murmur3's finalizer).
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	return x ^ x>>33
}

// find returns key's position in keys, or -1, and the slot where it is
// or goes with the slot's value but for the position.
func (x *stringIndex) find(keys []string, key string) (pos, slot int, missing indexSlot) {
	if len(key) <= maxShortKey {
		w := shortWord(key)
		for i := mix64(w^x.mixed) & x.mask; ; i = (i + 1) & x.mask {
			s := x.slots[i]
			if s.meta == 0 {
				return -1, int(i), indexSlot{word: w}
			}
			if s.word == w {
				return int(uint32(s.meta)) - 1, int(i), s
			}
		}
	}
	h := maphash.String(x.seed, key)
	top := h >> 32 << 32
	for i := h & x.mask; ; i = (i + 1) & x.mask {
		s := x.slots[i]
		if s.meta == 0 {
			return -1, int(i), indexSlot{meta: top}
		}
		if s.word == 0 && s.meta&^(1<<32-1) == top {
			if p := int(uint32(s.meta)) - 1; keys[p] == key {
				return p, int(i), s
			}
		}
	}
}

// insert records that the key found missing at slot (find) is at pos of
// keys, growing the index when it is half full.
func (x *stringIndex) insert(keys []string, slot int, missing indexSlot, pos int) {
	missing.meta |= uint64(uint32(pos + 1))
	x.slots[slot] = missing
	x.used++
	if 2*x.used >= len(x.slots) {
		x.grow(keys)
	}
}

// grow doubles the slots and places keys again.
func (x *stringIndex) grow(keys []string) {
	old := x.slots
	x.slots = make([]indexSlot, 2*len(old))
	x.mask = uint64(len(x.slots) - 1)
	for _, s := range old {
		if s.meta == 0 {
			continue
		}
		h := mix64(s.word ^ x.mixed)
		if s.word == 0 {
			h = maphash.String(x.seed, keys[uint32(s.meta)-1])
		}
		i := h & x.mask
		for x.slots[i].meta != 0 {
			i = (i + 1) & x.mask
		}
		x.slots[i] = s
	}
}

// stringAdder is table.adder for string keys: the index is a stringIndex.
func stringAdder[V any](keys *[]string, vals *[]V, combining *bool, combine func(a, b V) V, sizeHint int) func(string, V) {
	index := newStringIndex(sizeHint)
	return func(key string, v V) {
		pos, slot, missing := index.find(*keys, key)
		if pos >= 0 {
			*combining = true
			(*vals)[pos] = combine((*vals)[pos], v)
			*combining = false
			return
		}
		*keys, *vals = append(*keys, cloned(key)), append(*vals, v)
		index.insert(*keys, slot, missing, len(*keys)-1)
	}
}
