package pool

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// The worker side of a chunk. A worker runtime (package cluster) finds the
// registered functions through wire.Functions and serves each chunk job
// with RunChunk.

// registered is a Func as the registry holds it: a wire.Function.
type registered[In, Out any] struct{ f Func[In, Out] }

func (r registered[In, Out]) Name() string        { return r.f.name }
func (r registered[In, Out]) GearmanName() string { return wire.GearmanPrefix + r.f.name }

// ItemType makes registered a wire.ItemTyped: a worker estimates what
// decoding a chunk allocates from it before it decodes (wire.CheckChunk).
func (r registered[In, Out]) ItemType() reflect.Type { return reflect.TypeFor[In]() }

func (r registered[In, Out]) RunChunk(ctx context.Context, payload []byte, worker string) ([]byte, error) {
	return r.RunChunkAfter(ctx, payload, worker, 0)
}

// RunChunkAfter is RunChunk with headroom free bytes in front of the
// result (wire.HeadroomRunner), for a worker that seals it in place.
func (r registered[In, Out]) RunChunkAfter(ctx context.Context, payload []byte, worker string, headroom int) ([]byte, error) {
	out, start, err := r.runItems(ctx, payload, worker)
	if err != nil {
		return nil, err
	}
	data, err := wire.EncodeSized(headroom, resultBufferSize[Out](len(out), len(payload)), wire.ChunkResult[Out]{Items: out})
	if err != nil {
		return nil, r.encodeFailed(start, worker, err)
	}
	return data, nil
}

// RunChunkParts is RunChunk with the result in parts (wire.PartsRunner):
// for a chunk of large items, the results' large byte strings are sent
// from where they are (for a function that returns a part of its item,
// from the chunk's payload itself) instead of being copied into one
// result. A chunk of small items comes back in one part, as RunChunk's.
func (r registered[In, Out]) RunChunkParts(ctx context.Context, payload []byte, worker string) ([][]byte, error) {
	out, start, err := r.runItems(ctx, payload, worker)
	if err != nil {
		return nil, err
	}
	if len(payload) < wire.PartMin*max(len(out), 1) {
		data, err := wire.EncodeSized(0, resultBufferSize[Out](len(out), len(payload)), wire.ChunkResult[Out]{Items: out})
		if err != nil {
			return nil, r.encodeFailed(start, worker, err)
		}
		return [][]byte{data}, nil
	}
	parts, err := wire.EncodeParts(256+32*len(out), wire.ChunkResult[Out]{Items: out})
	if err != nil {
		return nil, r.encodeFailed(start, worker, err)
	}
	return parts, nil
}

// runItems decodes a chunk and runs the function on its items; it returns
// the results and the input index of the first item.
func (r registered[In, Out]) runItems(ctx context.Context, payload []byte, worker string) ([]Out, int, error) {
	req, te := r.decodeChunk(payload)
	if te != nil {
		te.Func, te.Index, te.Worker = r.f.name, -1, worker
		return nil, 0, r.fail(te)
	}
	out := make([]Out, len(req.Items.items))
	if i, terr := r.callItems(ctx, req.Items.items, out, time.Duration(req.TaskTimeout)); terr != nil {
		terr.Func, terr.Index, terr.Worker = r.f.name, req.Start+i, worker
		return nil, 0, r.fail(terr)
	}
	return out, req.Start, nil
}

func (r registered[In, Out]) encodeFailed(start int, worker string, err error) error {
	return r.fail(&TaskError{Func: r.f.name, Index: start, Worker: worker,
		Message: fmt.Sprintf("cannot encode the results: %v", err)})
}

// decodeChunk reads a chunk, checking that the client's types are the
// worker's before it decodes any item: an item of the wrong type would be
// an obscure msgpack error, or zero values with no error at all.
func (r registered[In, Out]) decodeChunk(payload []byte) (*wire.ChunkMessage[checkedItems[In]], *TaskError) {
	msg := &wire.ChunkMessage[checkedItems[In]]{}
	sh := r.f.shapes
	agree := func() bool { return msg.InType == sh.wireIn && msg.OutType == sh.wireOut }
	msg.Items.agree = agree
	var err error
	if !decodeScalarChunk(payload, msg, sh) {
		err = wire.Decode(payload, msg)
	}
	if (err == nil || errors.Is(err, errShapesDiffer)) && !agree() {
		mm := &TypeMismatchError{Func: r.f.name, ClientIn: msg.InType, ClientOut: msg.OutType, WorkerIn: sh.in, WorkerOut: sh.out}
		return nil, &TaskError{Message: mm.Error(), Mismatch: mm}
	}
	if err != nil {
		return nil, &TaskError{Message: fmt.Sprintf("cannot decode the chunk: %v", err)}
	}
	return msg, nil
}

// decodeScalarChunk is decodeChunk's fast path for int64 and float64
// items (wire.DecodeScalarChunk); false: decode the chunk the general way.
func decodeScalarChunk[In any](payload []byte, msg *wire.ChunkMessage[checkedItems[In]], sh *shapes) bool {
	switch items := any(&msg.Items.items).(type) {
	case *[]int64:
		return scalarChunkInto(payload, msg, items, sh)
	case *[]float64:
		return scalarChunkInto(payload, msg, items, sh)
	}
	return false
}

func scalarChunkInto[In any, T int64 | float64](payload []byte, msg *wire.ChunkMessage[checkedItems[In]], items *[]T, sh *shapes) bool {
	var m wire.ChunkMessage[[]T]
	agree := func(in, out string) bool { return in == sh.wireIn && out == sh.wireOut }
	if !wire.DecodeScalarChunk(payload, &m, agree) {
		return false
	}
	msg.Start, msg.TaskTimeout, msg.InType, msg.OutType, *items = m.Start, m.TaskTimeout, m.InType, m.OutType, m.Items
	return true
}

// checkedItems are a chunk's items as a worker decodes them: in the same
// pass as the rest of the chunk, once its shapes, which come first, agree.
type checkedItems[In any] struct {
	items []In
	agree func() bool
}

var errShapesDiffer = errors.New("the chunk's shapes are not the function's")

// DecodeMsgpack decodes the items once the shapes agree. String items
// share the chunk's bytes (wire.DecodeStringsInPlace): a worker's chunk
// payload is memory of its own that nothing writes to, as for []byte
// items, which msgpack decodes in place too.
func (c *checkedItems[In]) DecodeMsgpack(dec *msgpack.Decoder) error {
	if !c.agree() {
		return errShapesDiffer
	}
	if xs, ok := any(&c.items).(*[]string); ok {
		return wire.DecodeStringsInPlace(dec, xs)
	}
	return dec.Decode(&c.items)
}

func (r registered[In, Out]) fail(te *TaskError) error {
	return &chunkError{te: te, ex: &gearman.JobException{Data: te.marshal()}}
}

// chunkError is what RunChunk returns for a failed item: the worker
// runtime finds the *TaskError in it for its logs and stats, and
// gearman.Worker the *gearman.JobException whose data goes to the client.
type chunkError struct {
	te *TaskError
	ex *gearman.JobException
}

func (e *chunkError) Error() string   { return e.te.Error() }
func (e *chunkError) Unwrap() []error { return []error{e.te, e.ex} }

// callItems runs the function on items into out, and returns the index
// of the item that failed, if one did.
func (r registered[In, Out]) callItems(ctx context.Context, items []In, out []Out, timeout time.Duration) (int, *TaskError) {
	if timeout <= 0 {
		return r.callRun(ctx, items, out)
	}
	for i, item := range items {
		res, terr := r.call(ctx, item, timeout)
		if terr != nil {
			return i, terr
		}
		out[i] = res
	}
	return len(items), nil
}

// callRun is callItems with no deadline: one recover for the whole run (a
// panic ends the chunk anyway), not a deferred call per item, which cost
// a trivial function more than the function itself.
func (r registered[In, Out]) callRun(ctx context.Context, items []In, out []Out) (i int, te *TaskError) {
	defer func() {
		if v := recover(); v != nil {
			te = panicError(v)
		}
	}()
	for i = 0; i < len(items); i++ {
		res, err := r.f.fn(ctx, items[i])
		if err != nil {
			return i, &TaskError{Message: err.Error(), Code: declaredName(err)}
		}
		out[i] = res
	}
	return i, nil
}

// call runs the function on one item, turning an error, a panic or an
// overrun deadline into a TaskError.
func (r registered[In, Out]) call(ctx context.Context, item In, timeout time.Duration) (out Out, te *TaskError) {
	if timeout <= 0 {
		return r.callDirect(ctx, item)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		out Out
		te  *TaskError
	}
	done := make(chan result, 1)
	go func() {
		o, t := r.callDirect(ctx, item)
		done <- result{o, t}
	}()
	select {
	case res := <-done:
		if res.te != nil && ctx.Err() == context.DeadlineExceeded {
			res.te.Timeout = true
		}
		return res.out, res.te
	case <-ctx.Done():
		// A function that ignores its context keeps running in the
		// background; the chunk does not wait for it.
		return out, &TaskError{Timeout: true, Message: fmt.Sprintf("timed out after %v", timeout)}
	}
}

func (r registered[In, Out]) callDirect(ctx context.Context, item In) (out Out, te *TaskError) {
	defer func() {
		if v := recover(); v != nil {
			te = panicError(v)
		}
	}()
	out, err := r.f.fn(ctx, item)
	if err != nil {
		return out, &TaskError{Message: err.Error(), Code: declaredName(err)}
	}
	return out, nil
}

// panicError is the TaskError of a function that panicked with v; called
// by the deferred recover, so the stack is the panic's.
func panicError(v any) *TaskError {
	te := &TaskError{Panic: true, Message: fmt.Sprint(v), Stack: string(debug.Stack())}
	if err, ok := v.(error); ok {
		te.Code = declaredName(err)
	}
	return te
}
