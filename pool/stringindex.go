package pool

import (
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"sync"
)

// stringIndex finds the place of a string key in a worker's table (see
// table.adder). Its slots, open addressing, are 8 bytes: a key's place
// and 32 bits of its hash. Its entries, one per key in place order, hold
// a key of up to 16 bytes itself, as two words, with its length, so a key
// already in is found by comparing words, with no load of the key's
// bytes from where they are and no call to compare them. With Go's map
// the lookup was half of a worker's word count, the words being short.
// The index is small (a word count's chunk of 5,000 words: 128 KiB of
// slots, 160 KiB of entries, the frequent words' first, together), as
// a lookup costs mostly the cache misses on it. A longer key's entry
// holds its first and last 8 bytes, and a match is checked against the
// key itself.
type stringIndex struct {
	slots   []uint64 // 0: empty; else the hash's high half << 32 | place+1
	entries []keyEntry
	mask    uint64
	// seeds and longSeed make the hashes this index's own, as Go's maps
	// do, so that no input is slow by design.
	seeds    [2]uint64
	longSeed maphash.Seed
	pool     *sync.Pool // where release puts it; nil: nowhere
}

// keyEntry is what the index knows of the key at a place.
type keyEntry struct {
	head, tail uint64 // the key's bytes: see keyWords
	hash       uint64 // which grow places it by again
	size       int    // the key's length
}

// shortKey is the longest key its entry holds whole.
const shortKey = 16

// newStringIndex makes an index for about n keys without growing.
func newStringIndex(n int) *stringIndex {
	size := 16
	for size < 2*n {
		size *= 2
	}
	return &stringIndex{slots: make([]uint64, size), mask: uint64(size - 1),
		entries: make([]keyEntry, 0, n),
		seeds:   [2]uint64{rand.Uint64(), rand.Uint64()}, longSeed: maphash.MakeSeed()}
}

// maxPooledSlots: an index grown past this many slots (512 KiB) is not
// kept for another chunk, whose clearing would cost more than it saves.
const maxPooledSlots = 1 << 16

// takeStringIndex returns an index for about n keys: an empty one a chunk
// before released into pool, or a new one. Making one per chunk made
// garbage of a third of the size of a word count's chunk.
func takeStringIndex(pool *sync.Pool, n int) *stringIndex {
	x, _ := pool.Get().(*stringIndex)
	if x == nil {
		x = newStringIndex(n)
	}
	x.pool = pool
	return x
}

// release empties x and puts it back in its pool, for the next chunk; x
// is not to be used after.
func (x *stringIndex) release() {
	if x.pool == nil || len(x.slots) > maxPooledSlots {
		return
	}
	clear(x.slots)
	x.entries = x.entries[:0]
	x.pool.Put(x)
}

// place returns the place of key: its own if it is in (added false), else
// the next one, len(x.entries), where the caller puts it (added true).
// keyAt returns the key at a place, for a key longer than shortKey.
func (x *stringIndex) place(key string, keyAt func(int) string) (at int, added bool) {
	head, tail := keyWords(key)
	h := x.hash(key, head, tail)
	tag := h >> 32 << 32
	for i := h & x.mask; ; i = (i + 1) & x.mask {
		slot := x.slots[i]
		if slot == 0 {
			return x.add(i, key, head, tail, h)
		}
		if slot&^(1<<32-1) != tag {
			continue
		}
		at := int(uint32(slot)) - 1
		if e := &x.entries[at]; e.head == head && e.tail == tail && e.size == len(key) &&
			(len(key) <= shortKey || keyAt(at) == key) {
			return at, false
		}
	}
}

// add puts a new key in slot i, or, if that would fill over half the
// slots, in a slot of the index grown.
func (x *stringIndex) add(i uint64, key string, head, tail, h uint64) (int, bool) {
	at := len(x.entries)
	x.entries = append(x.entries, keyEntry{head: head, tail: tail, hash: h, size: len(key)})
	if 2*len(x.entries) > len(x.slots) {
		x.grow()
		return at, true
	}
	x.slots[i] = h>>32<<32 | uint64(at+1)
	return at, true
}

// hash hashes a key of up to shortKey bytes from its words, each mixed
// with a seed of its own (so that no key zeroes the product unless the
// seeds are known), multiplied to 128 bits and folded, as wyhash does; a
// longer key whole, with maphash.
func (x *stringIndex) hash(key string, head, tail uint64) uint64 {
	if len(key) > shortKey {
		return maphash.String(x.longSeed, key)
	}
	hi, lo := bits.Mul64(head^x.seeds[0], tail^x.seeds[1]^uint64(len(key)))
	return hi ^ lo
}

// grow doubles the slots and places every entry again by its hash.
func (x *stringIndex) grow() {
	x.slots = make([]uint64, 2*len(x.slots))
	x.mask = uint64(len(x.slots) - 1)
	for at, e := range x.entries {
		i := e.hash & x.mask
		for x.slots[i] != 0 {
			i = (i + 1) & x.mask
		}
		x.slots[i] = e.hash>>32<<32 | uint64(at+1)
	}
}

// keyWords are a key's bytes as two words, which with its length are the
// key if it has up to shortKey bytes: its first 8 and last 8 bytes (they
// overlap under 16), its first 4 and last 4 under 8, and its first,
// middle and last byte under 4 (which are all of them).
func keyWords(key string) (head, tail uint64) {
	n := len(key)
	switch {
	case n >= 8:
		return load64(key), load64(key[n-8:])
	case n >= 4:
		return uint64(load32(key)), uint64(load32(key[n-4:]))
	case n > 0:
		return uint64(key[0])<<16 | uint64(key[n/2])<<8 | uint64(key[n-1]), 0
	}
	return 0, 0
}

// load64 and load32 are s's first 8 and 4 bytes, little-endian (the
// compiler makes each one load).
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func load32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}
