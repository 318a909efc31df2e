package pool

import "github.com/glimpse-go/glimpse/internal/wire"

// The wire format lives in internal/wire, which the worker runtime
// (package cluster) shares; these are the map engine's names for it.

// chunkRequest is the payload of one chunk job.
type chunkRequest[In any] = wire.ChunkRequest[In]

// chunkMessage is a chunk with its items as Items (see checkedItems).
type chunkMessage[Items any] = wire.ChunkMessage[Items]

// chunkResult is the WORK_COMPLETE data of a chunk job.
type chunkResult[Out any] = wire.ChunkResult[Out]

func encode(v any) ([]byte, error)    { return wire.Encode(v) }
func decode(data []byte, v any) error { return wire.Decode(data, v) }

// parseChunkStarted returns the worker a wire.ChunkStarted notice names.
func parseChunkStarted(data []byte) (worker string, ok bool) { return wire.ParseChunkStarted(data) }
