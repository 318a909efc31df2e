package pool

import (
	"context"
	"fmt"
	"reflect"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// Func is a function registered by name. Function values cannot travel
// between processes, so a map names the function and every worker runs
// its own compiled copy; register functions in a package that both the
// client program and the worker binary import.
type Func[In, Out any] struct {
	name   string
	fn     func(context.Context, In) (Out, error)
	shapes *shapes
	shared *sharedArg // the value bound by FuncWith.With; nil: none
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

// explain completes a type mismatch that a worker reported with the
// client's own shapes: a chunk carries a long shape as its hash only.
func (f Func[In, Out]) explain(te *TaskError) *TaskError {
	if te.Mismatch != nil && f.shapes != nil {
		te.Mismatch.ClientIn, te.Mismatch.ClientOut = f.shapes.in, f.shapes.out
		te.Message = te.Mismatch.Error()
	}
	return te
}

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
	f := Func[In, Out]{name: name, fn: fn, shapes: sh}
	if !wire.Register(registered[In, Out]{f}) {
		panic(fmt.Sprintf("pool.Register: function %q registered twice", name))
	}
	return f
}
