package wire

import (
	"fmt"
	"reflect"
)

// Limits bound what a worker accepts of one chunk, checked by CheckChunk
// before the chunk is decoded. A zero field is not checked.
type Limits struct {
	MaxItems     int // the most items a chunk may hold
	MaxExpansion int // decoding may allocate at most this multiple of the payload
}

// The limits' names, as the [worker] keys that set them.
const (
	LimitChunkBytes = "max_chunk_bytes"
	LimitChunkItems = "max_chunk_items"
	LimitExpansion  = "max_expansion"
	LimitChunkTime  = "chunk_time_limit"
	LimitCrashLoop  = "crash_loop_limit"
)

// MinExpansionBudget is what decoding a chunk may always allocate, whatever
// its size: a small chunk of costly shapes (one-entry maps are ~70x their
// msgpack) risks nothing, and is not refused.
const MinExpansionBudget = 4 << 20

// LimitError is a chunk refused because it is over one of a worker's
// limits: the chunk's figure (Value) and the limit (Max), in the unit of
// the limit: bytes for max_chunk_bytes, items for max_chunk_items, bytes
// that decoding would allocate for max_expansion.
type LimitError struct {
	Limit   string // LimitChunkBytes, LimitChunkItems or LimitExpansion
	Value   int64
	Max     int64
	Payload int64 // the chunk's size in bytes
	// Expansion is max_expansion, for a LimitExpansion error (Max is
	// then the bytes it allows this chunk).
	Expansion int
}

func (e *LimitError) Error() string {
	switch e.Limit {
	case LimitChunkItems:
		return fmt.Sprintf("a chunk of %d items is over the worker's %s (%d)", e.Value, e.Limit, e.Max)
	case LimitExpansion:
		return fmt.Sprintf("decoding the chunk's %d bytes would allocate about %d bytes (%.0fx), over the worker's %s (%dx, at least %d: %d bytes)",
			e.Payload, e.Value, float64(e.Value)/float64(max(e.Payload, 1)), e.Limit, e.Expansion, MinExpansionBudget, e.Max)
	default:
		return fmt.Sprintf("a chunk of %d bytes is over the worker's %s (%d)", e.Value, e.Limit, e.Max)
	}
}

// ItemTyped is a Function that tells the Go type of its items, so that
// CheckChunk can estimate what decoding a chunk of them allocates. A
// Function without it is estimated as if its items were of type any.
type ItemTyped interface {
	ItemType() reflect.Type
}

// CheckChunk refuses, with a *LimitError, a chunk payload whose items are
// more than lim.MaxItems, or whose decoding into items of type item (nil:
// any) would allocate more than lim.MaxExpansion times the payload (and
// more than MinExpansionBudget). It
// only reads the payload, allocating next to nothing. A payload that is
// not a well-formed chunk passes: Decode says what is wrong with it.
func CheckChunk(payload []byte, item reflect.Type, lim Limits) error {
	if _, rest, ok, err := SplitShared(payload); ok && err == nil {
		payload = rest // the chunk after its shared value header
	}
	if len(payload) < 2 || payload[0] != version {
		return nil
	}
	data := payload[1:]
	if item != nil && flat(item) {
		if h, ok := scalarChunkHead(data); ok {
			// Numbers: what decoding allocates follows from the count
			// alone, so no walk of the items (Decode checks them).
			return checkItems(lim, max(h.items, 0), sliceCost(max(h.items, 0), item), len(payload))
		}
	}
	if walkMsgpack(data) != nil {
		return nil
	}
	// [Start, TaskTimeout, InType, OutType, Items]
	k, n, pos := head(data, 0)
	if k != mpArray || n != 5 {
		return nil
	}
	for range 4 {
		pos = skipValue(data, pos)
	}
	k, items, _ := head(data, pos)
	if k != mpArray {
		return nil
	}
	if lim.MaxItems > 0 && items > lim.MaxItems {
		return &LimitError{Limit: LimitChunkItems, Value: int64(items), Max: int64(lim.MaxItems), Payload: int64(len(payload))}
	}
	if lim.MaxExpansion <= 0 {
		return nil
	}
	if item == nil {
		item = anyType
	}
	_, cost := estimate(reflect.SliceOf(item), data, pos)
	return checkItems(lim, items, cost, len(payload))
}

// checkItems refuses a chunk of items whose decoding costs cost bytes if
// either is over lim.
func checkItems(lim Limits, items int, cost uint64, payload int) error {
	if lim.MaxItems > 0 && items > lim.MaxItems {
		return &LimitError{Limit: LimitChunkItems, Value: int64(items), Max: int64(lim.MaxItems), Payload: int64(payload)}
	}
	if lim.MaxExpansion <= 0 {
		return nil
	}
	budget := max(uint64(lim.MaxExpansion)*uint64(payload), MinExpansionBudget)
	if cost > budget {
		return &LimitError{Limit: LimitExpansion, Value: int64(cost), Max: int64(budget), Payload: int64(payload),
			Expansion: lim.MaxExpansion}
	}
	return nil
}
