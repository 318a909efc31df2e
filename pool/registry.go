package pool

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
)

// GearmanPrefix is put before a registered name to make its Gearman
// function name: "imaging.resize" is served as "glimpse.imaging.resize".
const GearmanPrefix = "glimpse."

// Func is a function registered by name. Function values cannot travel
// between processes, so a map names the function and every worker runs
// its own compiled copy; register functions in a package that both the
// client program and the worker binary import.
type Func[In, Out any] struct {
	name   string
	fn     func(context.Context, In) (Out, error)
	shapes *shapes
}

// Name is the name the function was registered under.
func (f Func[In, Out]) Name() string { return f.name }

// Shapes returns the shapes of In and Out as msgpack carries them: the
// text that a client and a worker must agree on for the function's chunks
// (a worker refuses a chunk whose shapes are not its own, with a
// *TypeMismatchError).
func (f Func[In, Out]) Shapes() (in, out string) {
	if f.shapes == nil {
		return "", ""
	}
	return f.shapes.in, f.shapes.out
}

// Call runs the function here, in this process.
func (f Func[In, Out]) Call(ctx context.Context, in In) (Out, error) { return f.fn(ctx, in) }

// Function is the untyped view of a registered function that a worker
// runtime serves.
type Function interface {
	// Name is the registered name.
	Name() string
	// GearmanName is the Gearman function that carries its chunks.
	GearmanName() string
	// RunChunk runs one chunk job: it decodes the items, calls the
	// function on each in order and encodes the results. An item that
	// fails stops the chunk; the error is a *gearman.JobException whose
	// data is the encoded *TaskError, so the client gets it back whole.
	RunChunk(ctx context.Context, payload []byte, worker string) ([]byte, error)
}

var registry = struct {
	sync.RWMutex
	funcs map[string]Function
}{funcs: map[string]Function{}}

// Register makes fn callable by name on the cluster. Like http.Handle it
// panics, at program start, on a name that is invalid (1-200 of ASCII
// letters, digits, '.', '_', '-', ':') or already taken, and on an In or
// Out type that msgpack cannot carry whole: funcs, channels, complex
// numbers, interfaces with methods (the empty interface travels as generic
// values, error as its text), and structs with no exported fields (they
// would arrive as zero values) unless they marshal themselves.
func Register[In, Out any](name string, fn func(context.Context, In) (Out, error)) Func[In, Out] {
	if !config.ValidFunctionName(name) {
		panic(fmt.Sprintf("pool.Register: invalid function name %q: want 1-200 of ASCII letters, digits, '.', '_', '-', ':'", name))
	}
	if fn == nil {
		panic(fmt.Sprintf("pool.Register(%q): nil function", name))
	}
	sh, err := newShapes(reflect.TypeFor[In](), reflect.TypeFor[Out]())
	if err != nil {
		panic(fmt.Sprintf("pool.Register(%q): %v", name, err))
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.funcs[name]; dup {
		panic(fmt.Sprintf("pool.Register: function %q registered twice", name))
	}
	f := Func[In, Out]{name: name, fn: fn, shapes: sh}
	registry.funcs[name] = registered[In, Out]{f}
	return f
}

// Lookup returns the registered function called name.
func Lookup(name string) (Function, bool) {
	registry.RLock()
	defer registry.RUnlock()
	f, ok := registry.funcs[name]
	return f, ok
}

// Functions returns every registered function, sorted by name.
func Functions() []Function {
	registry.RLock()
	defer registry.RUnlock()
	fs := make([]Function, 0, len(registry.funcs))
	for _, f := range registry.funcs {
		fs = append(fs, f)
	}
	slices.SortFunc(fs, func(a, b Function) int {
		if a.Name() < b.Name() {
			return -1
		}
		return 1
	})
	return fs
}

type registered[In, Out any] struct{ f Func[In, Out] }

func (r registered[In, Out]) Name() string        { return r.f.name }
func (r registered[In, Out]) GearmanName() string { return GearmanPrefix + r.f.name }

func (r registered[In, Out]) RunChunk(ctx context.Context, payload []byte, worker string) ([]byte, error) {
	req, te := r.decodeChunk(payload)
	if te != nil {
		te.Func, te.Index, te.Worker = r.f.name, -1, worker
		return nil, r.fail(te)
	}
	out := make([]Out, 0, len(req.Items.items))
	timeout := time.Duration(req.TaskTimeout)
	for i, item := range req.Items.items {
		res, terr := r.call(ctx, item, timeout)
		if terr != nil {
			terr.Func, terr.Index, terr.Worker = r.f.name, req.Start+i, worker
			return nil, r.fail(terr)
		}
		out = append(out, res)
	}
	data, err := encode(chunkResult[Out]{Items: out})
	if err != nil {
		return nil, r.fail(&TaskError{Func: r.f.name, Index: req.Start, Worker: worker,
			Message: fmt.Sprintf("cannot encode the results: %v", err)})
	}
	return data, nil
}

// decodeChunk reads a chunk, checking that the client's types are the
// worker's before it decodes any item: an item of the wrong type would be
// an obscure msgpack error, or zero values with no error at all.
func (r registered[In, Out]) decodeChunk(payload []byte) (*chunkMessage[checkedItems[In]], *TaskError) {
	msg := &chunkMessage[checkedItems[In]]{}
	sh := r.f.shapes
	agree := func() bool { return msg.InType == sh.wireIn && msg.OutType == sh.wireOut }
	msg.Items.agree = agree
	err := decode(payload, msg)
	if (err == nil || errors.Is(err, errShapesDiffer)) && !agree() {
		mm := &TypeMismatchError{Func: r.f.name, ClientIn: msg.InType, ClientOut: msg.OutType, WorkerIn: sh.in, WorkerOut: sh.out}
		return nil, &TaskError{Message: mm.Error(), Mismatch: mm}
	}
	if err != nil {
		return nil, &TaskError{Message: fmt.Sprintf("cannot decode the chunk: %v", err)}
	}
	return msg, nil
}

// checkedItems are a chunk's items as a worker decodes them: in the same
// pass as the rest of the chunk, once its shapes, which come first, agree.
type checkedItems[In any] struct {
	items []In
	agree func() bool
}

var errShapesDiffer = errors.New("the chunk's shapes are not the function's")

func (c *checkedItems[In]) DecodeMsgpack(dec *msgpack.Decoder) error {
	if !c.agree() {
		return errShapesDiffer
	}
	return dec.Decode(&c.items)
}

// explain completes a type mismatch that a worker reported with the
// client's own shapes: a chunk carries a long shape as its hash only.
func (f Func[In, Out]) explain(te *TaskError) *TaskError {
	if te.Mismatch != nil && f.shapes != nil {
		te.Mismatch.ClientIn, te.Mismatch.ClientOut = f.shapes.in, f.shapes.out
		te.Message = te.Mismatch.Error()
	}
	return te
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
			te = &TaskError{Panic: true, Message: fmt.Sprint(v), Stack: string(debug.Stack())}
			if err, ok := v.(error); ok {
				te.Code = declaredName(err)
			}
		}
	}()
	out, err := r.f.fn(ctx, item)
	if err != nil {
		return out, &TaskError{Message: err.Error(), Code: declaredName(err)}
	}
	return out, nil
}
