package pool

import (
	"fmt"

	"github.com/glimpse-go/glimpse/internal/wire"
)

// TaskPayload encodes in as the one-item chunk that a durable background
// task stores (package tasks): a worker runs it with the function's
// RunChunk, with the same shape check as a map's chunk.
func (f Func[In, Out]) TaskPayload(in In) ([]byte, error) {
	if f.shapes == nil {
		return nil, fmt.Errorf("pool: function %q was not made by pool.Register", f.name)
	}
	return wire.Encode(wire.ChunkRequest[In]{Items: []In{in}, InType: f.shapes.wireIn, OutType: f.shapes.wireOut})
}

// TaskResult decodes what RunChunk returned for a TaskPayload: the
// function's result.
func (f Func[In, Out]) TaskResult(data []byte) (Out, error) {
	var res wire.ChunkResult[Out]
	var zero Out
	if err := wire.Decode(data, &res); err != nil {
		return zero, fmt.Errorf("pool: decode the result of %s: %w", f.name, err)
	}
	if len(res.Items) != 1 {
		return zero, fmt.Errorf("pool: the result of %s holds %d items, want 1", f.name, len(res.Items))
	}
	return res.Items[0], nil
}
