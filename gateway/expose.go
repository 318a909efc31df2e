package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"sync"

	"github.com/glimpse-go/glimpse/pool"
)

// Expose makes f callable over HTTP as JSON by every gateway of this
// process: POST /v1/functions/{name}/map, /call and /tasks, listed by GET
// /v1/functions. JSON items decode into In with encoding/json (unknown
// object fields refused) and results encode from Out, so In and Out's
// json tags name their fields over HTTP. Call it next to pool.Register,
// in the package of functions (glimpse-cluster http exposes the examples
// and the built-in webhook function). Like pool.Register it panics on a
// name exposed twice; it returns f.
func Expose[In, Out any](f pool.Func[In, Out]) pool.Func[In, Out] {
	exposedMu.Lock()
	defer exposedMu.Unlock()
	if _, ok := exposed[f.Name()]; ok {
		panic(fmt.Sprintf("gateway.Expose: function %q exposed twice", f.Name()))
	}
	exposed[f.Name()] = &jsonFunc[In, Out]{f: f}
	return f
}

// function is an exposed function, seen through JSON.
type function interface {
	Name() string
	Shapes() (in, out string)
	// decode reads one item of In from JSON; index names it in errors.
	decode(data []byte, index int) (any, error)
	// call runs one item (a value decode returned).
	call(ctx context.Context, p *pool.Pool, item any) (any, error)
	// mapAll runs items read whole; the results in order.
	mapAll(ctx context.Context, p *pool.Pool, items []any, opts ...pool.MapOption) ([]any, error)
	// imap runs items as they come, yielding results in order.
	imap(ctx context.Context, p *pool.Pool, items iter.Seq[any], opts ...pool.MapOption) iter.Seq2[any, error]
	// taskPayload encodes an item as a durable task's payload, when the
	// pool offers it (Func.TaskPayload); nil, nil when it does not.
	taskPayload(item any) ([]byte, error)
	// resultJSON decodes a task result of Out as JSON (nil, nil when
	// the pool cannot).
	resultJSON(encoded []byte) (json.RawMessage, error)
}

var (
	exposedMu sync.RWMutex
	exposed   = map[string]function{}
)

// lookup returns the function exposed under name.
func lookup(name string) (function, bool) {
	exposedMu.RLock()
	defer exposedMu.RUnlock()
	f, ok := exposed[name]
	return f, ok
}

// Exposed lists the names of the exposed functions, sorted.
func Exposed() []string {
	exposedMu.RLock()
	defer exposedMu.RUnlock()
	names := make([]string, 0, len(exposed))
	for n := range exposed {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

type jsonFunc[In, Out any] struct{ f pool.Func[In, Out] }

func (j *jsonFunc[In, Out]) Name() string             { return j.f.Name() }
func (j *jsonFunc[In, Out]) Shapes() (in, out string) { return j.f.Shapes() }

func (j *jsonFunc[In, Out]) decode(data []byte, index int) (any, error) {
	var v In
	if err := decodeItem(data, &v, index); err != nil {
		return nil, err
	}
	return v, nil
}

func (j *jsonFunc[In, Out]) call(ctx context.Context, p *pool.Pool, item any) (any, error) {
	return pool.Call(ctx, p, j.f, item.(In))
}

func (j *jsonFunc[In, Out]) mapAll(ctx context.Context, p *pool.Pool, items []any, opts ...pool.MapOption) ([]any, error) {
	in := make([]In, len(items))
	for i, it := range items {
		in[i] = it.(In)
	}
	outs, err := pool.Map(ctx, p, j.f, in, opts...)
	if err != nil {
		return nil, err
	}
	res := make([]any, len(outs))
	for i, o := range outs {
		res[i] = o
	}
	return res, nil
}

func (j *jsonFunc[In, Out]) imap(ctx context.Context, p *pool.Pool, items iter.Seq[any], opts ...pool.MapOption) iter.Seq2[any, error] {
	typed := func(yield func(In) bool) {
		for it := range items {
			if !yield(it.(In)) {
				return
			}
		}
	}
	return func(yield func(any, error) bool) {
		for out, err := range pool.Imap(ctx, p, j.f, typed, opts...) {
			if !yield(out, err) {
				return
			}
		}
	}
}

// taskPayloader is pool.Func's TaskPayload, which the task service adds
// to pool: checked at run time so that this package builds before it.
type taskPayloader[In any] interface {
	TaskPayload(in In) ([]byte, error)
}

func (j *jsonFunc[In, Out]) taskPayload(item any) ([]byte, error) {
	if tp, ok := any(j.f).(taskPayloader[In]); ok {
		return tp.TaskPayload(item.(In))
	}
	return nil, nil
}
