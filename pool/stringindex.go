package pool

import (
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"sync"
)

// stringIndex finds the place of a string key in a worker's table (see
// table.adder): an open-addressing table whose slots hold a key of up to
// 16 bytes itself, as two words, with its length. A key already in is
// found by comparing words in the slot the hash picks, with no load of
// the key's bytes from where they are and no call to compare them: with
// Go's map the lookup was half of a worker's word count, the words being
// short. A longer key's slot holds its first and last 8 bytes and its
// hash, and a match is checked against the key itself.
type stringIndex struct {
	slots []stringSlot
	mask  uint64
	n     int // keys in
	// seeds and longSeed make the hashes this index's own, as Go's maps
	// do, so that no input is slow by design.
	seeds    [2]uint64
	longSeed maphash.Seed
	pool     *sync.Pool // where release puts it; nil: nowhere
}

// stringSlot is a key's slot, 32 bytes; size 0 is an empty slot.
type stringSlot struct {
	head, tail uint64 // the key's bytes: see keyWords
	hash       uint64 // the key's hash, which grow places it by again
	size       uint32 // the key's length + 1
	at         int32  // the key's place in the table's keys
}

// shortKey is the longest key its slot holds whole.
const shortKey = 16

// newStringIndex makes an index for about n keys without growing.
func newStringIndex(n int) *stringIndex {
	size := 16
	for size < 2*n {
		size *= 2
	}
	return &stringIndex{slots: make([]stringSlot, size), mask: uint64(size - 1),
		seeds: [2]uint64{rand.Uint64(), rand.Uint64()}, longSeed: maphash.MakeSeed()}
}

// maxPooledSlots: an index grown past this many slots (2 MiB) is not
// kept for another chunk, whose clearing would cost more than it saves.
const maxPooledSlots = 1 << 16

// takeStringIndex returns an index for about n keys: an empty one a chunk
// before released into pool, or a new one. A worker reused them: a new
// 512 KiB index per chunk of a word count was a fifth of what the worker
// allocated per chunk, and its garbage collections with it.
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
	x.n = 0
	x.pool.Put(x)
}

// place returns the place of key: its own if it is in (added false),
// else next, where the caller puts it (added true). keyAt returns the
// key at a place, for a key longer than shortKey.
func (x *stringIndex) place(key string, next int, keyAt func(int) string) (at int, added bool) {
	head, tail := keyWords(key)
	h := x.hash(key, head, tail)
	size := uint32(len(key)) + 1
	for i := h & x.mask; ; i = (i + 1) & x.mask {
		s := &x.slots[i]
		if s.size == 0 {
			if 2*(x.n+1) > len(x.slots) {
				x.grow()
				return x.place(key, next, keyAt)
			}
			*s = stringSlot{head: head, tail: tail, hash: h, size: size, at: int32(next)}
			x.n++
			return next, true
		}
		if s.head == head && s.tail == tail && s.size == size && s.hash == h &&
			(len(key) <= shortKey || keyAt(int(s.at)) == key) {
			return int(s.at), false
		}
	}
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

// grow doubles the slots and places each key again by its hash.
func (x *stringIndex) grow() {
	old := x.slots
	x.slots = make([]stringSlot, 2*len(old))
	x.mask = uint64(len(x.slots) - 1)
	for _, s := range old {
		if s.size == 0 {
			continue
		}
		i := s.hash & x.mask
		for x.slots[i].size != 0 {
			i = (i + 1) & x.mask
		}
		x.slots[i] = s
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
