package pool

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// Shared arguments: a value every item of a map needs (a model, a lookup
// table: what functools.partial carried in glimpse) travels once per
// worker, not once per item or chunk. Chunks name it by the SHA-256 of its
// encoding; a worker keeps the decoded value in a cache shared by its
// slots (package cluster) and answers a chunk whose value it lacks with
// wire.CodeNeedShared, and the client sends that chunk again with the
// value inline (sharedsend.go).

// FuncWith is a function registered by name whose calls take, besides
// their item, a value shared by every item of a map. Bind the value with
// With to get a Func to map.
type FuncWith[S, In, Out any] struct {
	name        string
	fn          func(context.Context, S, In) (Out, error)
	shapes      *shapes // In's shape includes the shared value's
	sharedShape string  // canonical shape of S
}

// RegisterWith is Register for a function that also takes a shared value:
// a map of f.With(v) sends v to each worker once (cached there by its
// content hash, decoded once per worker process and passed to every item
// as shared), not once per item or chunk. The shared value's type is part
// of the function's type check: a worker whose function takes another S
// refuses the chunks with a *TypeMismatchError. Every slot of a worker
// gets the same decoded value at once: treat it as read-only. It panics
// like Register, and on an S that cannot travel.
func RegisterWith[S, In, Out any](name string, fn func(context.Context, S, In) (Out, error)) FuncWith[S, In, Out] {
	if !config.ValidFunctionName(name) {
		panic(fmt.Sprintf("pool.RegisterWith: invalid function name %q: want 1-200 of ASCII letters, digits, '.', '_', '-', ':'", name))
	}
	if fn == nil {
		panic(fmt.Sprintf("pool.RegisterWith(%q): nil function", name))
	}
	sh, err := newShapes(reflect.TypeFor[In](), reflect.TypeFor[Out]())
	if err != nil {
		panic(fmt.Sprintf("pool.RegisterWith(%q): %v", name, err))
	}
	sShape, err := shapeOf(reflect.TypeFor[S](), "Shared")
	if err != nil {
		panic(fmt.Sprintf("pool.RegisterWith(%q): %v", name, err))
	}
	// The chunk's In shape names the shared type too, so that the
	// existing check refuses a worker whose S differs.
	sh.in = "shared(" + sShape + ") " + sh.in
	sh.wireIn = wireShape(sh.in)
	f := FuncWith[S, In, Out]{name: name, fn: fn, shapes: sh, sharedShape: sShape}
	if !wire.Register(registeredWith[S, In, Out]{f}) {
		panic(fmt.Sprintf("pool.RegisterWith: function %q registered twice", name))
	}
	return f
}

// Name is the name the function was registered under.
func (f FuncWith[S, In, Out]) Name() string { return f.name }

// Shapes returns the shapes, as msgpack carries them, of the shared value
// and of In and Out.
func (f FuncWith[S, In, Out]) Shapes() (shared, in, out string) {
	if f.shapes == nil {
		return "", "", ""
	}
	return f.sharedShape, f.shapes.in[len("shared("+f.sharedShape+") "):], f.shapes.out
}

// Call runs the function here, in this process.
func (f FuncWith[S, In, Out]) Call(ctx context.Context, shared S, in In) (Out, error) {
	return f.fn(ctx, shared, in)
}

// With binds the shared value: the Func it returns maps like any other,
// and each of its maps sends shared to each worker that lacks it once.
// shared is encoded (and hashed) once, by the first map, so reuse the
// Func for several maps of the same value; do not change the value
// meanwhile. With on a zero FuncWith returns a zero Func.
func (f FuncWith[S, In, Out]) With(shared S) Func[In, Out] {
	if f.fn == nil {
		return Func[In, Out]{}
	}
	fn := f.fn
	return Func[In, Out]{name: f.name, shapes: f.shapes,
		fn:     func(ctx context.Context, in In) (Out, error) { return fn(ctx, shared, in) },
		shared: &sharedArg{shape: wireShape(f.sharedShape), encode: func() ([]byte, error) { return wire.Encode(shared) }}}
}

// sharedArg is a bound shared value, encoded and hashed once.
type sharedArg struct {
	shape  string // the wire shape of its type
	encode func() ([]byte, error)

	once    sync.Once
	encoded []byte
	hash    [wire.SharedHashSize]byte
	err     error
}

func (a *sharedArg) load() error {
	a.once.Do(func() {
		if a.encoded, a.err = a.encode(); a.err == nil {
			a.hash = wire.HashShared(a.encoded)
		}
	})
	return a.err
}

// ref is the chunk header naming the value, with it inline or not.
func (a *sharedArg) ref(inline bool) wire.SharedRef {
	ref := wire.SharedRef{Hash: a.hash, Shape: a.shape}
	if inline {
		ref.Value = a.encoded
	}
	return ref
}

// prepare encodes the value and checks that a chunk can carry it.
func (a *sharedArg) prepare(fn string, maxPacket int) error {
	if err := a.load(); err != nil {
		return fmt.Errorf("pool: %s: cannot encode the shared value: %w", fn, err)
	}
	if maxPacket <= 0 {
		maxPacket = gearman.DefaultMaxPacketSize
	}
	if size := wire.SharedHeaderSize(a.ref(true)); size > maxPacket-sharedPacketRoom {
		return &SharedValueTooLargeError{Func: fn, Size: size, Max: maxPacket - sharedPacketRoom}
	}
	return nil
}

// sharedPacketRoom is kept free beside an inline shared value in a chunk
// job: the key's frame and at least a few items.
const sharedPacketRoom = 64 << 10

// SharedValueTooLargeError is a shared value (FuncWith.With) whose
// encoding cannot travel in one job: over the pool's packet limit
// (WithMaxPacketSize) less room for the chunk's items. gearmand takes jobs
// up to 64 MiB, and workers chunks up to their max_chunk_bytes.
type SharedValueTooLargeError struct {
	Func string // registered function name
	Size int    // the encoded value's bytes, with its header
	Max  int    // the most a chunk can carry
}

func (e *SharedValueTooLargeError) Error() string {
	return fmt.Sprintf("pool: %s: the shared value encodes to %d bytes, over the %d a chunk job can carry (the pool's packet limit less %d for the items): share a smaller value, or a reference to data the workers can read",
		e.Func, e.Size, e.Max, sharedPacketRoom)
}

// registeredWith is a FuncWith as the registry holds it: a
// wire.SharedFunction.
type registeredWith[S, In, Out any] struct{ f FuncWith[S, In, Out] }

func (r registeredWith[S, In, Out]) Name() string           { return r.f.name }
func (r registeredWith[S, In, Out]) GearmanName() string    { return wire.GearmanPrefix + r.f.name }
func (r registeredWith[S, In, Out]) ItemType() reflect.Type { return reflect.TypeFor[In]() }
func (r registeredWith[S, In, Out]) SharedShape() string    { return wireShape(r.f.sharedShape) }

// DecodeShared decodes a shared value. A []byte value is not copied out
// of encoded but shares its bytes (a worker's copy of a 50 MB table took
// 30 ms to copy, after its hash was checked): the worker runtime hands it
// a job's data, which nothing reuses.
func (r registeredWith[S, In, Out]) DecodeShared(encoded []byte) (any, error) {
	var s S
	if b, ok := any(&s).(*[]byte); ok {
		if v, ok := wire.BytesView(encoded); ok {
			*b = v
			return s, nil
		}
	}
	if err := wire.Decode(encoded, &s); err != nil {
		return nil, err
	}
	return s, nil
}

func (r registeredWith[S, In, Out]) RunChunk(ctx context.Context, payload []byte, worker string) ([]byte, error) {
	return r.RunChunkAfter(ctx, payload, worker, 0)
}

// RunChunkAfter runs a chunk with the shared value the worker runtime put
// in ctx (wire.WithSharedValue). A runtime without a cache leaves the
// header on the chunk: an inline value is decoded here, for this chunk
// only, and a hash alone is answered with CodeNeedShared.
func (r registeredWith[S, In, Out]) RunChunkAfter(ctx context.Context, payload []byte, worker string, headroom int) ([]byte, error) {
	v, found := wire.SharedValue(ctx)
	if !found {
		var te *TaskError
		if v, payload, found, te = r.sharedFromHeader(payload); te != nil {
			te.Func, te.Index, te.Worker = r.f.name, -1, worker
			return nil, registered[In, Out]{}.fail(te)
		}
	}
	s, _ := v.(S)
	fn := r.f.fn
	inner := registered[In, Out]{f: Func[In, Out]{name: r.f.name, shapes: r.f.shapes,
		fn: func(ctx context.Context, in In) (Out, error) { return fn(ctx, s, in) }}}
	if !found {
		if _, te := inner.decodeChunk(payload); te != nil { // the type check first
			te.Func, te.Index, te.Worker = r.f.name, -1, worker
			return nil, inner.fail(te)
		}
		return nil, inner.fail(&TaskError{Func: r.f.name, Index: -1, Worker: worker, Message: "the chunk came without its shared value"})
	}
	return inner.RunChunkAfter(ctx, payload, worker, headroom)
}

// sharedFromHeader decodes the shared value of a chunk that still has its
// header; found is false if it has none, or one of another type.
func (r registeredWith[S, In, Out]) sharedFromHeader(payload []byte) (v any, rest []byte, found bool, te *TaskError) {
	ref, rest, ok, err := wire.SplitShared(payload)
	switch {
	case err != nil:
		return nil, nil, false, &TaskError{Message: fmt.Sprintf("cannot decode the chunk: %v", err)}
	case !ok || ref.Shape != r.SharedShape():
		return nil, rest, false, nil
	case ref.Value == nil:
		return nil, nil, false, NeedSharedError(ref.Hash, false)
	case wire.HashShared(ref.Value) != ref.Hash:
		return nil, nil, false, &TaskError{Message: (&wire.SharedHashError{Want: ref.Hash, Got: wire.HashShared(ref.Value)}).Error()}
	}
	if v, err = r.DecodeShared(ref.Value); err != nil {
		return nil, nil, false, &TaskError{Message: fmt.Sprintf("cannot decode the shared value: %v", err)}
	}
	return v, rest, true, nil
}

// NeedSharedError is a worker's answer to a chunk that names a shared
// value it does not hold (Code wire.CodeNeedShared, or
// wire.CodeSharedDropped if it dropped it): the client sends the chunk
// again with the value. For worker runtimes; a map never returns it.
func NeedSharedError(hash [wire.SharedHashSize]byte, dropped bool) *TaskError {
	te := &TaskError{Index: -1, Code: wire.CodeNeedShared,
		Message: fmt.Sprintf("this worker does not hold the shared value %x; send it", hash[:8])}
	if dropped {
		te.Code = wire.CodeSharedDropped
	}
	return te
}
