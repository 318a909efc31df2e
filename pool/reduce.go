package pool

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"slices"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// A reduce runs on the workers: each worker folds its chunk's results
// into one accumulator and sends only that back, and the client merges the
// chunks' accumulators in input order. A reduce's chunks are the same
// jobs as a map's (wire.ChunkRequest) under the reducer's own registered
// name; only the result differs: one accumulator (wire.ChunkResult with
// one item) instead of a result per item.

// Reducer is a map function and a fold of its results, registered by name
// with RegisterReducer.
type Reducer[In, Out, Acc any] struct {
	red *reduction[In, Acc]
}

// Name is the name the reducer was registered under ("" for the zero
// Reducer).
func (r Reducer[In, Out, Acc]) Name() string { return r.red.name() }

// Shapes returns the shapes that a client and a worker must agree on for
// the reducer's chunks: In's, and the fold's (Out's and Acc's).
func (r Reducer[In, Out, Acc]) Shapes() (in, fold string) {
	if r.red == nil {
		return "", ""
	}
	return r.red.f.Shapes()
}

// RegisterReducer makes a map/reduce callable by name on the cluster
// (see Reduce): fn maps each item on a worker; combine folds its result
// into the chunk's accumulator, starting from Acc's zero value; merge
// joins two chunks' accumulators on the client, a's chunk before b's.
// combine and merge must together be associative (a chunk's fold merged
// with the next one's equals folding both chunks at once), not
// commutative: results are combined, and accumulators merged, in input
// order. Like Register it panics on an invalid or taken name, nil
// functions, and types msgpack cannot carry whole.
func RegisterReducer[In, Out, Acc any](name string, fn func(context.Context, In) (Out, error),
	combine func(acc Acc, out Out) Acc, merge func(a, b Acc) Acc) Reducer[In, Out, Acc] {
	if combine == nil || merge == nil {
		panic(fmt.Sprintf("pool.RegisterReducer(%q): nil combine or merge", name))
	}
	fold := &folder[In, Out, Acc]{fn: Func[In, Out]{name: name, fn: fn}, combine: combine}
	red := registerReduction(name, fn != nil, reflect.TypeFor[Out](), reflect.TypeFor[Acc](), fold.fold, merge)
	return Reducer[In, Out, Acc]{red: red}
}

// reduction is what the engine and the workers need of a reducer: a
// Func whose name and shapes its chunks carry (its fn never runs), the
// worker's fold of a chunk and the client's merge.
type reduction[In, Acc any] struct {
	f Func[In, Acc]
	// fold folds a chunk's items, the first of which is input item
	// start; on failure it returns the index (in items) of the item to
	// blame.
	fold  func(ctx context.Context, items []In, start int, timeout time.Duration) (Acc, int, *TaskError)
	merge func(a, b Acc) Acc
}

func (red *reduction[In, Acc]) name() string {
	if red == nil {
		return ""
	}
	return red.f.name
}

// errZeroReducer is a reduce of a Reducer or KeyedReducer that was not
// registered.
var errZeroReducer = errors.New("pool: reduce with a zero reducer (use the value pool.RegisterReducer or pool.RegisterKeyed returns)")

// registerReduction checks and registers a reduction; mapped is the type
// the fold combines and acc the accumulator's as msgpack sees it (their
// shapes are part of the fingerprint: a worker that maps to another type
// refuses the chunk).
func registerReduction[In, Acc any](name string, haveFn bool, mapped, acc reflect.Type,
	fold func(context.Context, []In, int, time.Duration) (Acc, int, *TaskError), merge func(a, b Acc) Acc) *reduction[In, Acc] {
	if !config.ValidFunctionName(name) {
		panic(fmt.Sprintf("pool: invalid reducer name %q: want 1-200 of ASCII letters, digits, '.', '_', '-', ':'", name))
	}
	if !haveFn {
		panic(fmt.Sprintf("pool: reducer %q: nil function", name))
	}
	sh, err := reductionShapes(reflect.TypeFor[In](), mapped, acc)
	if err != nil {
		panic(fmt.Sprintf("pool: reducer %q: %v", name, err))
	}
	red := &reduction[In, Acc]{fold: fold, merge: merge}
	red.f = Func[In, Acc]{name: name, fn: onWorkersOnly[In, Acc](name), shapes: sh}
	if !wire.Register(registeredReduction[In, Acc]{red}) {
		panic(fmt.Sprintf("pool: function %q registered twice", name))
	}
	return red
}

// reductionShapes are a reduction's In shape and, as its Out, the shape
// of what it folds and of the accumulator it sends.
func reductionShapes(in, mapped, acc reflect.Type) (*shapes, error) {
	sh, err := newShapes(in, acc)
	if err != nil {
		return nil, err
	}
	m, err := shapeOf(mapped, "Out")
	if err != nil {
		return nil, err
	}
	sh.out = "fold " + m + " into " + sh.out
	sh.wireOut = wireShape(sh.out)
	return sh, nil
}

// onWorkersOnly is the fn of a reduction's Func: a reduction runs only in
// chunks on the workers.
func onWorkersOnly[In, Acc any](name string) func(context.Context, In) (Acc, error) {
	return func(context.Context, In) (Acc, error) {
		var zero Acc
		return zero, fmt.Errorf("pool: reducer %s runs in chunks on the workers only", name)
	}
}

// Reduce maps every item on the cluster's workers and folds the results
// there, each chunk into one accumulator, which is all that comes back;
// it returns the chunks' accumulators merged in input order (Acc's zero
// value for no items). Errors, retries, cancellation, Progress (in input
// items) and backup tasks are as for Map; a failing or panicking function
// or combine is a *TaskError naming the item, and a panicking merge one
// naming the chunk. Automatic chunks are longer than Map's (up to 500,000
// items, or about 4 MiB): the result of one is a single accumulator.
func Reduce[In, Out, Acc any](ctx context.Context, p *Pool, r Reducer[In, Out, Acc], items []In, opts ...MapOption) (Acc, error) {
	if r.red == nil {
		var zero Acc
		return zero, errZeroReducer
	}
	return r.red.run(ctx, p, input[In]{seq: slices.Values(items), slice: items}, len(items), opts)
}

// ReduceSeq is Reduce over a lazily read input. Memory stays bounded
// whatever the input's length: at most Window chunks are in flight, and
// the client keeps only the accumulators it cannot merge yet (those of
// chunks that finished before an earlier one). Automatic chunks start at
// one item and double while a chunk takes under 100ms, up to 131,072.
func ReduceSeq[In, Out, Acc any](ctx context.Context, p *Pool, r Reducer[In, Out, Acc], items iter.Seq[In], opts ...MapOption) (Acc, error) {
	if r.red == nil {
		var zero Acc
		return zero, errZeroReducer
	}
	return r.red.run(ctx, p, input[In]{seq: items}, -1, opts)
}

// run is the client side of a reduce: the map engine, with one
// accumulator per chunk. Chunks are taken as they come (a chunk held up
// does not stall the window, so backup tasks can beat a straggler) and
// merged with their neighbours in input order as soon as those are in:
// the client keeps one accumulator per run of adjacent chunks, and
// between runs lies a chunk in flight, so at most Window+1 of them.
func (red *reduction[In, Acc]) run(ctx context.Context, p *Pool, in input[In], total int, opts []MapOption) (Acc, error) {
	var zero Acc
	runs := &accRuns[Acc]{merge: red.safeMerge, byStart: map[int]*accRun[Acc]{}, byEnd: map[int]*accRun[Acc]{}}
	var mergeErr error
	opts = append(slices.Clip(opts), func(o *mapOptions) { o.folded = true })
	err := run(ctx, p, red.f, in, total, false, opts, func(start, n int, vs []Acc) bool {
		mergeErr = runs.add(start, start+n, vs[0])
		return mergeErr == nil
	})
	if err == nil {
		err = mergeErr
	}
	if err != nil {
		return zero, err
	}
	return runs.result()
}

// accRun is the accumulator of the adjacent chunks that cover the items
// [start, end).
type accRun[Acc any] struct {
	start, end int
	acc        Acc
}

// accRuns are the accumulators of a reduce's chunks so far, merged into
// runs of adjacent chunks.
type accRuns[Acc any] struct {
	merge   func(a, b Acc, bStart int) (Acc, error)
	byStart map[int]*accRun[Acc]
	byEnd   map[int]*accRun[Acc]
}

// add takes the accumulator of the chunk of items [start, end) and merges
// it with the runs just before and after it, if they are in.
func (rs *accRuns[Acc]) add(start, end int, acc Acc) error {
	r := &accRun[Acc]{start: start, end: end, acc: acc}
	if left, ok := rs.byEnd[start]; ok {
		delete(rs.byEnd, start)
		delete(rs.byStart, left.start)
		merged, err := rs.merge(left.acc, r.acc, r.start)
		if err != nil {
			return err
		}
		left.acc, left.end = merged, r.end
		r = left
	}
	if right, ok := rs.byStart[r.end]; ok {
		delete(rs.byStart, r.end)
		delete(rs.byEnd, right.end)
		merged, err := rs.merge(r.acc, right.acc, right.start)
		if err != nil {
			return err
		}
		r.acc, r.end = merged, right.end
	}
	rs.byStart[r.start], rs.byEnd[r.end] = r, r
	return nil
}

// result is the accumulator of every chunk: once all are in, one run
// from item 0 (none: no items, Acc's zero value).
func (rs *accRuns[Acc]) result() (Acc, error) {
	var zero Acc
	if len(rs.byStart) == 0 {
		return zero, nil
	}
	r, ok := rs.byStart[0]
	if !ok || len(rs.byStart) != 1 {
		return zero, fmt.Errorf("pool: reduce ended with %d runs of chunks unmerged", len(rs.byStart))
	}
	return r.acc, nil
}

// safeMerge merges b, the accumulator of the chunks from item bStart,
// into a; a panicking merge is a *TaskError naming that chunk.
func (red *reduction[In, Acc]) safeMerge(a, b Acc, bStart int) (acc Acc, err error) {
	defer func() {
		if v := recover(); v != nil {
			te := panicError(v)
			te.Func, te.Index = red.f.name, -1
			te.Message = fmt.Sprintf("merge of the chunk from item %d: %s", bStart, te.Message)
			err = te
		}
	}()
	return red.merge(a, b), nil
}

// registeredReduction is a reduction as the registry holds it: a
// wire.Function whose chunks come back folded.
type registeredReduction[In, Acc any] struct{ red *reduction[In, Acc] }

func (r registeredReduction[In, Acc]) Name() string        { return r.red.f.name }
func (r registeredReduction[In, Acc]) GearmanName() string { return wire.GearmanPrefix + r.red.f.name }

// ItemType makes registeredReduction a wire.ItemTyped, as a map's.
func (r registeredReduction[In, Acc]) ItemType() reflect.Type { return reflect.TypeFor[In]() }

func (r registeredReduction[In, Acc]) RunChunk(ctx context.Context, payload []byte, worker string) ([]byte, error) {
	return r.RunChunkAfter(ctx, payload, worker, 0)
}

// RunChunkAfter decodes a chunk as a map's, folds its items and sends the
// one accumulator back.
func (r registeredReduction[In, Acc]) RunChunkAfter(ctx context.Context, payload []byte, worker string, headroom int) ([]byte, error) {
	reg := registered[In, Acc]{r.red.f}
	req, te := reg.decodeChunk(payload)
	if te != nil {
		te.Func, te.Index, te.Worker = r.red.f.name, -1, worker
		return nil, reg.fail(te)
	}
	acc, i, terr := r.red.fold(ctx, req.Items.items, req.Start, time.Duration(req.TaskTimeout))
	if terr != nil {
		terr.Func, terr.Index, terr.Worker = r.red.f.name, req.Start+i, worker
		return nil, reg.fail(terr)
	}
	data, err := wire.EncodeSized(headroom, accSize(acc), wire.ChunkResult[Acc]{Items: []Acc{acc}})
	if err != nil {
		return nil, reg.fail(&TaskError{Func: r.red.f.name, Index: -1, Worker: worker,
			Message: fmt.Sprintf("cannot encode the accumulator of the chunk from item %d: %v", req.Start, err)})
	}
	return data, nil
}

// accSize is the buffer to encode acc in: a keyed reduce's table knows
// about its size, which a buffer grown from 256 bytes would be copied
// over and over to reach.
func accSize[Acc any](acc Acc) int {
	if s, ok := any(acc).(interface{ encodedSize() int }); ok {
		return s.encodedSize()
	}
	return 256
}

// foldBatch is how many results a worker's fold holds at once: the map
// function runs on a batch, then combine folds it, so a chunk of a
// million items needs no million results.
const foldBatch = 1024

// folder is a Reducer's worker side.
type folder[In, Out, Acc any] struct {
	fn      Func[In, Out]
	combine func(Acc, Out) Acc
}

// fold maps and combines a chunk's items (see reduction.fold).
func (f *folder[In, Out, Acc]) fold(ctx context.Context, items []In, first int, timeout time.Duration) (Acc, int, *TaskError) {
	if timeout <= 0 {
		return f.foldRun(ctx, items, first)
	}
	var acc Acc
	mapper := registered[In, Out]{f.fn}
	buf := make([]Out, min(len(items), foldBatch))
	for start := 0; start < len(items); start += len(buf) {
		if err := ctx.Err(); err != nil {
			return acc, start, &TaskError{Message: fmt.Sprintf("cancelled: %v", context.Cause(ctx))}
		}
		batch := items[start:min(start+len(buf), len(items))]
		if i, terr := mapper.callItems(ctx, batch, buf, timeout); terr != nil {
			return acc, start + i, terr
		}
		if i, terr := f.combineAll(&acc, buf[:len(batch)]); terr != nil {
			return acc, start + i, combineFailed(terr, first, len(items))
		}
	}
	return acc, len(items), nil
}

// foldRun is fold with no deadline: each result combined as it comes,
// with one recover for the whole run (a panic ends the chunk anyway), not
// a batch of results stored and read back, a loop of its own each.
func (f *folder[In, Out, Acc]) foldRun(ctx context.Context, items []In, first int) (acc Acc, i int, te *TaskError) {
	combining := false
	defer func() {
		if v := recover(); v != nil {
			te = panicError(v)
			if combining {
				te = combineFailed(te, first, len(items))
			}
		}
	}()
	fn, combine := f.fn.fn, f.combine
	for start := 0; start < len(items); start += foldBatch {
		if err := ctx.Err(); err != nil {
			return acc, start, &TaskError{Message: fmt.Sprintf("cancelled: %v", context.Cause(ctx))}
		}
		for i = start; i < min(start+foldBatch, len(items)); i++ {
			out, err := fn(ctx, items[i])
			if err != nil {
				return acc, i, &TaskError{Message: err.Error(), Code: declaredName(err)}
			}
			combining = true
			acc = combine(acc, out)
			combining = false
		}
	}
	return acc, len(items), nil
}

// combineFailed says that te is a combine's, in the chunk of n items from
// input item first.
func combineFailed(te *TaskError, first, n int) *TaskError {
	te.Message = fmt.Sprintf("combine, in the chunk of items %d-%d: %s", first, first+n-1, te.Message)
	return te
}

// combineAll folds outs into *acc; a panic is the TaskError of the item
// whose result was being combined.
func (f *folder[In, Out, Acc]) combineAll(acc *Acc, outs []Out) (i int, te *TaskError) {
	defer func() {
		if v := recover(); v != nil {
			te = panicError(v)
		}
	}()
	a := *acc
	for i = 0; i < len(outs); i++ {
		a = f.combine(a, outs[i])
	}
	*acc = a
	return i, nil
}
