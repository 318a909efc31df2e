package pool

import (
	"bytes"
	"encoding/json"
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

// TaskPayloadJSON is TaskPayload for an item given as JSON (null or
// empty: In's zero value), for callers that know the function by name
// only (package tasks' EnqueueJSON): the JSON is decoded into In,
// refusing fields In does not have, then encoded as TaskPayload does.
// The error is a *json.SyntaxError, *json.UnmarshalTypeError or the
// unknown-field error of encoding/json.
func (f Func[In, Out]) TaskPayloadJSON(item []byte) ([]byte, error) {
	var in In
	if len(bytes.TrimSpace(item)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(item))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return nil, err
		}
		if dec.More() {
			return nil, &json.SyntaxError{Offset: dec.InputOffset()}
		}
	}
	return f.TaskPayload(in)
}

// TaskPayloadJSON makes a registered function's wire.Function encode
// JSON items too (see Func.TaskPayloadJSON).
func (r registered[In, Out]) TaskPayloadJSON(item []byte) ([]byte, error) {
	return r.f.TaskPayloadJSON(item)
}
