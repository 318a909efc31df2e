package pool

import (
	"reflect"
	"strings"
	"unsafe"
)

// keyArena holds the string keys a keyed reduce's table keeps, copied
// end to end into blocks: a chunk's thousands of distinct words cost an
// allocation per block, not one per key (they were half of a worker's
// allocations in a word count), and lie together in memory, where the
// lookups compare them. A block is only appended to, so a key's bytes
// never change; a block lives as long as one of its keys does.
type keyArena struct {
	block []byte
	// bytes is the length of every key copied: the table's encoding is
	// sized from it.
	bytes int
}

// arenaBlock is the size of an arena's blocks; a longer key is copied
// alone.
const arenaBlock = 16 << 10

// clone returns a copy of s in the arena.
func (a *keyArena) clone(s string) string {
	a.bytes += len(s)
	switch {
	case len(s) == 0:
		return ""
	case len(s) > arenaBlock/16:
		return strings.Clone(s)
	case cap(a.block)-len(a.block) < len(s):
		a.block = make([]byte, 0, arenaBlock)
	}
	start := len(a.block)
	a.block = append(a.block, s...)
	return unsafe.String(&a.block[start], len(s))
}

// stringKind says whether K is a string type (string, or a type whose
// underlying type is string): its keys are cloned into an arena.
func stringKind[K comparable]() bool {
	return reflect.TypeFor[K]().Kind() == reflect.String
}

// asString is key, of a string type, as a string.
func asString[K comparable](key K) string {
	return *(*string)(unsafe.Pointer(&key))
}

// cloneKey returns key with its string's bytes copied into a, if K is a
// string type (isString: stringKind[K]()), else key itself.
func cloneKey[K comparable](a *keyArena, key K, isString bool) K {
	if !isString {
		return key
	}
	s := a.clone(asString(key))
	return *(*K)(unsafe.Pointer(&s))
}
