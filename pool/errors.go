package pool

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
)

// TypeMismatchError is a chunk a worker refused because it registers the
// function with other In or Out types than the client: the worker binary
// was built against another version of the package of functions. It comes
// inside a *TaskError (errors.As finds it) and nothing ran.
type TypeMismatchError struct {
	Func                string // registered function name
	ClientIn, ClientOut string // the client's shapes (see Func.Shapes)
	WorkerIn, WorkerOut string // the worker's
}

func (e *TypeMismatchError) Error() string {
	return fmt.Sprintf("type mismatch: the client sends In=%s and expects Out=%s; this worker registers In=%s Out=%s",
		orUnknown(e.ClientIn), orUnknown(e.ClientOut), orUnknown(e.WorkerIn), orUnknown(e.WorkerOut))
}

func orUnknown(shape string) string {
	if shape == "" {
		return "(none given)"
	}
	return shape
}

// declared holds the errors RegisterError declared, by name and in the
// order they were declared.
var declared = struct {
	sync.RWMutex
	byName map[string]error
	names  []string
}{byName: map[string]error{}}

// RegisterError declares err, under name, as an error that keeps its
// identity across the wire, and returns it:
//
//	var ErrBadInput = pool.RegisterError("funcs.bad-input", errors.New("bad input"))
//
// When a function's error is, or wraps, a declared error, the worker puts
// its name in TaskError.Code, and the client's *TaskError unwraps to the
// error declared under that name, so errors.Is(err, funcs.ErrBadInput)
// holds after the trip. Declare errors in the package that registers the
// functions, which the client and the worker both import. Like Register,
// it panics on a name that is invalid (the rule of function names) or
// taken, and on a nil or incomparable error.
func RegisterError(name string, err error) error {
	if !config.ValidFunctionName(name) {
		panic(fmt.Sprintf("pool.RegisterError: invalid error name %q: want 1-200 of ASCII letters, digits, '.', '_', '-', ':'", name))
	}
	if err == nil {
		panic(fmt.Sprintf("pool.RegisterError(%q): nil error", name))
	}
	if !reflect.TypeOf(err).Comparable() {
		panic(fmt.Sprintf("pool.RegisterError(%q): an error of type %T is not comparable, so errors.Is cannot match it: declare a sentinel such as errors.New(...)", name, err))
	}
	declared.Lock()
	defer declared.Unlock()
	if _, dup := declared.byName[name]; dup {
		panic(fmt.Sprintf("pool.RegisterError: error %q registered twice", name))
	}
	declared.byName[name] = err
	declared.names = append(declared.names, name)
	return err
}

// declaredError returns the error declared under name, or nil.
func declaredError(name string) error {
	if name == "" {
		return nil
	}
	declared.RLock()
	defer declared.RUnlock()
	return declared.byName[name]
}

// declaredName returns the name of the declared error that err is or
// wraps; of several, the most specific (one that wraps another wins).
func declaredName(err error) string {
	declared.RLock()
	defer declared.RUnlock()
	best := ""
	for _, name := range declared.names {
		d := declared.byName[name]
		if errors.Is(err, d) && (best == "" || errors.Is(d, declared.byName[best])) {
			best = name
		}
	}
	return best
}

// CrashLoopError is a chunk that went to more workers than its retries
// allow (see Retries) and none of them answered: each died or vanished
// running it, as when one of its items crashes the worker process.
// errors.Is(err, ErrCrashLoop) holds for it.
type CrashLoopError struct {
	Func        string // registered function name
	Chunk       int    // the chunk's index in the map
	First, Last int    // input indexes of its first and last items
	// Workers are the workers that announced the chunk, in order: all but
	// the last died or vanished running it; the map stopped when the last
	// one took it.
	Workers []string
}

func (e *CrashLoopError) Error() string {
	died := e.Workers[:max(len(e.Workers)-1, 0)]
	return fmt.Sprintf("pool: %s: %s went to %d workers and none answered: %s died or vanished running it; an item that crashes its worker process does this (Chunksize(1) tells which): %v",
		e.Func, chunkSpan(e.Chunk, e.First, e.Last), len(e.Workers), strings.Join(died, ", "), ErrCrashLoop)
}

// Unwrap returns ErrCrashLoop.
func (e *CrashLoopError) Unwrap() error { return ErrCrashLoop }

// ChunkFailedError is a chunk whose every attempt failed for a reason
// that is not its function's (those come as a *TaskError): WORK_FAIL, a
// lost connection. Err is the last attempt's error, which it unwraps to.
type ChunkFailedError struct {
	Func        string // registered function name
	Chunk       int    // the chunk's index in the map
	First, Last int    // input indexes of its first and last items
	Attempts    int    // Retries+1
	Err         error
}

func (e *ChunkFailedError) Error() string {
	span := chunkSpan(e.Chunk, e.First, e.Last)
	if errors.Is(e.Err, gearman.ErrJobFailed) {
		// gearmand ends a job with WORK_FAIL after --job-retries tries
		// whose worker vanished: an item that kills its worker process.
		return fmt.Sprintf("pool: %s: %s failed %s: gearmand gave up on it each time, as after --job-retries workers died running it (an item that crashes its worker process does this; Chunksize(1) tells which): %v",
			e.Func, span, times(e.Attempts), e.Err)
	}
	return fmt.Sprintf("pool: %s: %s failed %s: %v", e.Func, span, times(e.Attempts), e.Err)
}

// times says "once" or "N times".
func times(n int) string {
	if n == 1 {
		return "once"
	}
	return strconv.Itoa(n) + " times"
}

func (e *ChunkFailedError) Unwrap() error { return e.Err }
