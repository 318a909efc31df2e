package wire

import (
	"cmp"
	"context"
	"slices"
	"sync"
)

// Function is the untyped view of a registered function that a worker
// runtime serves. pool.Register makes them.
type Function interface {
	// Name is the registered name.
	Name() string
	// GearmanName is the Gearman function that carries its chunks.
	GearmanName() string
	// RunChunk runs one chunk job: it decodes the items, calls the
	// function on each in order and encodes the results. An item that
	// fails stops the chunk; the error is a *gearman.JobException whose
	// data is the encoded *pool.TaskError, so the client gets it back
	// whole. The items may be the payload's own bytes ([]byte and
	// string items decode in place), so nothing may change the payload
	// once it is handed over.
	RunChunk(ctx context.Context, payload []byte, worker string) ([]byte, error)
}

// HeadroomRunner is a Function that can leave room in front of its
// result: RunChunkAfter's result has its first headroom bytes free, so a
// worker with a cluster key seals it in place (auth.Key.SealInPlace)
// instead of copying a result of many megabytes once more.
type HeadroomRunner interface {
	RunChunkAfter(ctx context.Context, payload []byte, worker string, headroom int) ([]byte, error)
}

// RunChunkAfter runs f's chunk and returns its result with headroom free
// bytes in front: without a copy if f is a HeadroomRunner.
func RunChunkAfter(ctx context.Context, f Function, payload []byte, worker string, headroom int) ([]byte, error) {
	if hr, ok := f.(HeadroomRunner); ok {
		return hr.RunChunkAfter(ctx, payload, worker, headroom)
	}
	res, err := f.RunChunk(ctx, payload, worker)
	if err != nil || headroom == 0 {
		return res, err
	}
	out := make([]byte, headroom+len(res))
	copy(out[headroom:], res)
	return out, nil
}

// PartsRunner is a Function whose result can come in parts
// (EncodeParts): large byte strings among the results, often parts of the
// chunk's payload itself, are then sent where they are, not copied into
// the result (gearman.Job.SetMoreResult).
type PartsRunner interface {
	RunChunkParts(ctx context.Context, payload []byte, worker string) ([][]byte, error)
}

// RunChunkParts runs f's chunk and returns its result in parts, which
// together are RunChunk's result: one part unless f is a PartsRunner.
func RunChunkParts(ctx context.Context, f Function, payload []byte, worker string) ([][]byte, error) {
	if pr, ok := f.(PartsRunner); ok {
		return pr.RunChunkParts(ctx, payload, worker)
	}
	res, err := f.RunChunk(ctx, payload, worker)
	if err != nil {
		return nil, err
	}
	return [][]byte{res}, nil
}

var registry = struct {
	sync.RWMutex
	funcs map[string]Function
}{funcs: map[string]Function{}}

// Register adds f to the functions this program serves. It returns false,
// and adds nothing, if the name is taken.
func Register(f Function) bool {
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.funcs[f.Name()]; dup {
		return false
	}
	registry.funcs[f.Name()] = f
	return true
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
	slices.SortFunc(fs, func(a, b Function) int { return cmp.Compare(a.Name(), b.Name()) })
	return fs
}
