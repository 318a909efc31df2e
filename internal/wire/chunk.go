package wire

import "strings"

// ChunkRequest is the payload of one chunk job, as a client sends it.
type ChunkRequest[In any] = ChunkMessage[[]In]

// ChunkMessage is a chunk with its items as Items: a client sends []In; a
// worker decodes items of its own kind, which decode only if the shapes
// are its own.
type ChunkMessage[Items any] struct {
	_msgpack    struct{} `msgpack:",as_array"`
	Start       int      // input index of Items[0]
	TaskTimeout int64    // per-item deadline in nanoseconds; 0: none
	// The client's In and Out shapes. They come before the items so that
	// a worker whose function has other shapes refuses the chunk before
	// it decodes a single item.
	InType, OutType string
	Items           Items
}

// ChunkResult is the WORK_COMPLETE data of a chunk job.
type ChunkResult[Out any] struct {
	_msgpack struct{} `msgpack:",as_array"`
	Items    []Out
}

// MaxMapID bounds a map id in a command; a map's own ids have 16 digits.
const MaxMapID = 32

// ValidMapID says whether id can name a map: 1 to MaxMapID lower-case hex
// digits.
func ValidMapID(id string) bool {
	if id == "" || len(id) > MaxMapID {
		return false
	}
	for _, r := range id {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

// ChunkMapID returns the id of the map that a chunk job's unique id
// belongs to (a chunk's unique id is "<map id>-<chunk>[-backup]"), or ""
// if the unique id is not a chunk's.
func ChunkMapID(unique string) string {
	id, _, ok := strings.Cut(unique, "-")
	if !ok || !ValidMapID(id) {
		return ""
	}
	return id
}
