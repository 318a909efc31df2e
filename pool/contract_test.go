package pool_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// The contract between a client and a worker binary built from another
// version of the package of functions: the worker refuses chunks of a
// function it registers with other types, before running anything; and
// declared errors keep their identity across the wire.

// driftEnv makes a worker process play a binary built against another
// version of the drift functions below: it registers them, under the same
// names, with the drifted types.
const driftEnv = "POOL_TEST_DRIFTED"

// runLogEnv names a file to which the drift functions append a line for
// every item they run, in whichever process.
const runLogEnv = "POOL_TEST_RUNLOG"

var drifted = os.Getenv(driftEnv) != ""

type personV1 struct{ Name string }

// personV2 is personV1 with its field renamed.
type personV2 struct{ Title string }

// wideV1 and wideV2 have shapes too long to travel whole: a chunk carries
// their hash.
type wideV1 struct {
	FirstMeasurementInMillimetres, SecondMeasurementInMillimetres, ThirdMeasurementInMillimetres int64
	FourthMeasurementInMillimetres, FifthMeasurementInMillimetres, SixthMeasurementInMillimetres int64
	SeventhMeasurementInMillimetres, EighthMeasurementInMillimetres                              int64
}

type wideV2 struct {
	FirstMeasurementInMillimetres, SecondMeasurementInMillimetres, ThirdMeasurementInMillimetres int64
	FourthMeasurementInMillimetres, FifthMeasurementInMillimetres, SixthMeasurementInMillimetres int64
	SeventhMeasurementInMillimetres, EighthMeasurementInInches                                   int64
}

var (
	driftIn = drift("drifttest.in",
		func(x int64) int64 { return x * x },
		func(s string) int64 { return int64(len(s)) })
	driftOut = drift("drifttest.out",
		func(x int64) int64 { return x * x },
		func(x int64) string { return fmt.Sprint(x * x) })
	driftRenamedIn = drift("drifttest.renamedin",
		func(p personV1) string { return p.Name },
		func(p personV2) string { return p.Title })
	driftRenamedOut = drift("drifttest.renamedout",
		func(x int64) personV1 { return personV1{Name: fmt.Sprint(x)} },
		func(x int64) personV2 { return personV2{Title: fmt.Sprint(x)} })
	driftWide = drift("drifttest.wide",
		func(w wideV1) int64 { return w.FirstMeasurementInMillimetres },
		func(w wideV2) int64 { return w.FirstMeasurementInMillimetres })
)

// drift registers fn under name, or in a drifted worker process the other
// version, which takes or returns other types.
func drift[In, Out, In2, Out2 any](name string, fn func(In) Out, other func(In2) Out2) pool.Func[In, Out] {
	if drifted {
		pool.Register(name, recorded(name, other))
		return pool.Func[In, Out]{}
	}
	return pool.Register(name, recorded(name, fn))
}

// recorded makes fn a registered function that logs each item it runs.
func recorded[In, Out any](name string, fn func(In) Out) func(context.Context, In) (Out, error) {
	return func(_ context.Context, x In) (Out, error) {
		if path := os.Getenv(runLogEnv); path != "" {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				panic(err)
			}
			fmt.Fprintf(f, "%s %v\n", name, x)
			f.Close()
		}
		return fn(x), nil
	}
}

// TestTypeDriftRefused: a worker process whose binary registers a function
// with other In or Out types than the client's refuses every chunk of it
// before running any item, with a *TaskError naming the function and both
// shapes. Before, an In of another type was an obscure msgpack error; an
// Out of another type came back undecodable after the worker had run every
// item; and a renamed struct field arrived as zero values with no error.
func TestTypeDriftRefused(t *testing.T) {
	addr := gearmand(t)
	runLog := filepath.Join(t.TempDir(), "runs")
	startWorkerProcessEnv(t, []string{driftEnv + "=1", runLogEnv + "=" + runLog}, 2, addr)
	p := newPool(t, driftIn.Name(), 2, addr)
	ctx := testenv.Context(t)
	for _, fn := range []string{driftOut.Name(), driftRenamedIn.Name(), driftRenamedOut.Name(), driftWide.Name()} {
		waitSlots(t, p, fn, 2)
	}
	wide := fmt.Sprint(driftWide.Shapes())
	wideIn, _ := driftWide.Shapes()
	for _, tc := range []struct {
		fn                  string
		mapIt               func() error
		clientIn, clientOut string
		workerIn, workerOut string
	}{
		{driftIn.Name(), func() error { _, err := pool.Map(ctx, p, driftIn, []int64{1, 2, 3}); return err },
			"int64", "int64", "string", "int64"},
		{driftOut.Name(), func() error { _, err := pool.Map(ctx, p, driftOut, []int64{1, 2, 3}); return err },
			"int64", "int64", "int64", "string"},
		{driftRenamedIn.Name(), func() error {
			got, err := pool.Map(ctx, p, driftRenamedIn, []personV1{{"ada"}, {"bob"}})
			if err == nil {
				return fmt.Errorf("no error; results %q", got)
			}
			return err
		}, "struct{Name string}", "string", "struct{Title string}", "string"},
		{driftRenamedOut.Name(), func() error {
			got, err := pool.Map(ctx, p, driftRenamedOut, []int64{7, 8})
			if err == nil {
				return fmt.Errorf("no error; results %+v", got)
			}
			return err
		}, "int64", "struct{Name string}", "int64", "struct{Title string}"},
		{driftWide.Name(), func() error { _, err := pool.Map(ctx, p, driftWide, []wideV1{{}, {}}); return err },
			wideIn, "int64", strings.Replace(wideIn, "EighthMeasurementInMillimetres", "EighthMeasurementInInches", 1), "int64"},
	} {
		err := tc.mapIt()
		var te *pool.TaskError
		var mm *pool.TypeMismatchError
		if !errors.As(err, &te) || !errors.As(err, &mm) {
			t.Errorf("%s: %v; want a *pool.TaskError with a *pool.TypeMismatchError", tc.fn, err)
			continue
		}
		want := pool.TypeMismatchError{Func: tc.fn, ClientIn: tc.clientIn, ClientOut: tc.clientOut, WorkerIn: tc.workerIn, WorkerOut: tc.workerOut}
		if *mm != want || te.Func != tc.fn || te.Index != -1 || !strings.HasPrefix(te.Worker, "proc-") {
			t.Errorf("%s: %+v\n%+v;\nwant %+v", tc.fn, te, mm, want)
		}
		msg := fmt.Sprintf("pool: %s failed on worker %s: type mismatch: the client sends In=%s and expects Out=%s; this worker registers In=%s Out=%s",
			tc.fn, te.Worker, tc.clientIn, tc.clientOut, tc.workerIn, tc.workerOut)
		if err.Error() != msg {
			t.Errorf("%s: error\n%s\nwant\n%s", tc.fn, err, msg)
		}
	}
	if !strings.Contains(wide, "EighthMeasurementInMillimetres") || len(wideIn) <= 256 {
		t.Errorf("wideV1's shape %q should be long enough to travel as a hash", wideIn)
	}
	runs, err := os.ReadFile(runLog)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if len(runs) > 0 {
		t.Errorf("the drifted worker ran items of chunks it should have refused:\n%s", runs)
	}
	// The refusals cost the worker process nothing: it serves the
	// functions whose types agree.
	got, err := pool.Map(ctx, p, funcs.Square, []int64{1, 2, 3})
	if err != nil || fmt.Sprint(got) != "[1 4 9]" {
		t.Fatalf("a function whose types agree: %v, %v", got, err)
	}
}

type (
	hiddenFields struct{ secret, other int }
	withCallback struct {
		Name     string
		Callback func(int) int
	}
	withChannel    struct{ Done chan struct{} }
	withStringer   struct{ Label fmt.Stringer }
	nestedCallback struct{ Jobs []map[string]*withCallback }
)

// TestRegisterRefusesTypesThatCannotTravel: Register panics, naming the
// function and where in the type, for a type msgpack cannot carry whole;
// types that do travel register.
func TestRegisterRefusesTypesThatCannotTravel(t *testing.T) {
	for _, tc := range []struct {
		name     string
		register func(name string)
		want     string
	}{
		{"contracttest.hidden", func(n string) { pool.Register(n, fake[hiddenFields, int]) },
			"In (pool_test.hiddenFields) cannot travel: a struct with no exported fields"},
		{"contracttest.hiddenout", func(n string) { pool.Register(n, fake[int, *hiddenFields]) },
			"Out (pool_test.hiddenFields) cannot travel: a struct with no exported fields"},
		{"contracttest.func", func(n string) { pool.Register(n, fake[withCallback, int]) },
			"In.Callback (func(int) int) cannot travel: msgpack cannot carry a func"},
		{"contracttest.nestedfunc", func(n string) { pool.Register(n, fake[int, nestedCallback]) },
			"Out.Jobs[][value].Callback (func(int) int) cannot travel: msgpack cannot carry a func"},
		{"contracttest.chan", func(n string) { pool.Register(n, fake[withChannel, int]) },
			"In.Done (chan struct {}) cannot travel: msgpack cannot carry a chan"},
		{"contracttest.chanin", func(n string) { pool.Register(n, fake[chan int, int]) },
			"In (chan int) cannot travel: msgpack cannot carry a chan"},
		{"contracttest.complex", func(n string) { pool.Register(n, fake[int, complex128]) },
			"Out (complex128) cannot travel: msgpack cannot carry a complex128"},
		{"contracttest.stringer", func(n string) { pool.Register(n, fake[withStringer, int]) },
			"In.Label (fmt.Stringer) cannot travel: an interface with methods"},
	} {
		msg := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			tc.register(tc.name)
			return "no panic"
		}()
		if want := fmt.Sprintf("pool.Register(%q): %s", tc.name, tc.want); !strings.HasPrefix(msg, want) {
			t.Errorf("Register(%q) panicked with\n%s\nwant\n%s", tc.name, msg, want)
		}
		if _, ok := wire.Lookup(tc.name); ok {
			t.Errorf("%s was registered", tc.name)
		}
	}
	// Types that travel: the empty interface (as generic values), error
	// (as its text), time.Time, a struct with no fields at all, fields
	// left out with msgpack:"-", recursive types.
	type tree struct {
		Kids    []tree
		Cleanup func() `msgpack:"-"`
	}
	pool.Register("contracttest.any", fake[any, error])
	pool.Register("contracttest.time", fake[time.Time, struct{}])
	f := pool.Register("contracttest.tree", fake[*tree, map[string][]any])
	if in, out := f.Shapes(); in != "struct{Kids []^2}" || out != "map[string][]any" {
		t.Errorf("tree's shapes: %q, %q", in, out)
	}
}

func fake[In, Out any](context.Context, In) (Out, error) {
	var out Out
	return out, nil
}

var (
	// errBadInput and errNoSuchUser are declared; errNotFound, which
	// errNoSuchUser wraps, too; errUndeclared is not.
	errNotFound   = pool.RegisterError("errtest.not-found", errors.New("not found"))
	errNoSuchUser = pool.RegisterError("errtest.no-such-user", fmt.Errorf("%w: no such user", errNotFound))
	errBadInput   = pool.RegisterError("errtest.bad-input", errors.New("bad input"))
	errUndeclared = errors.New("undeclared failure")

	failDeclared = pool.Register("errtest.fail", func(_ context.Context, x int) (int, error) {
		switch x {
		case 3:
			return 0, fmt.Errorf("item %d: %w", x, errBadInput)
		case 4:
			return 0, errNoSuchUser
		case 5:
			return 0, errUndeclared
		case 6:
			panic(errBadInput)
		}
		return x, nil
	})
)

// TestDeclaredErrorsCrossTheWire: a function's error that is, or wraps, a
// declared error keeps its identity through a real worker process:
// errors.Is holds on the client, through the *TaskError and whatever wraps
// it. An undeclared error comes back as before, as a message.
func TestDeclaredErrorsCrossTheWire(t *testing.T) {
	addr := gearmand(t)
	startWorkerProcess(t, 2, addr)
	p := newPool(t, failDeclared.Name(), 2, addr)
	ctx := testenv.Context(t)
	fail := func(item int) (*pool.TaskError, error) {
		t.Helper()
		_, err := pool.Map(ctx, p, failDeclared, []int{1, item, 2})
		var te *pool.TaskError
		if !errors.As(err, &te) || te.Index != 1 || !strings.HasPrefix(te.Worker, "proc-") {
			t.Fatalf("item %d: %v; want a *pool.TaskError for item 1 from a worker process", item, err)
		}
		return te, fmt.Errorf("the job failed: %w", err)
	}

	te, err := fail(3)
	if !errors.Is(err, errBadInput) || te.Code != "errtest.bad-input" || te.Message != "item 3: bad input" {
		t.Errorf("declared error: Is(errBadInput)=%v, %+v", errors.Is(err, errBadInput), te)
	}
	if errors.Is(err, errNotFound) || errors.Is(err, errUndeclared) {
		t.Errorf("declared error %v matches others", err)
	}

	te, err = fail(4) // the most specific declared error wins
	if !errors.Is(err, errNoSuchUser) || !errors.Is(err, errNotFound) || te.Code != "errtest.no-such-user" {
		t.Errorf("declared error wrapping another: %+v", te)
	}

	te, err = fail(5)
	if errors.Is(err, errUndeclared) || te.Code != "" || te.Message != "undeclared failure" || te.Panic {
		t.Errorf("undeclared error: %+v", te)
	}

	te, err = fail(6)
	if !errors.Is(err, errBadInput) || !te.Panic || te.Stack == "" {
		t.Errorf("panic with a declared error: %+v", te)
	}
}

// TestRegisterErrorRefuses: bad names, nil and incomparable errors, and a
// name declared twice panic, as Register does.
func TestRegisterErrorRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"bad name!", errors.New("x"), `pool.RegisterError: invalid error name "bad name!"`},
		{"", errors.New("x"), `pool.RegisterError: invalid error name ""`},
		{"errtest.nil", nil, `pool.RegisterError("errtest.nil"): nil error`},
		{"errtest.incomparable", incomparableError{}, `pool.RegisterError("errtest.incomparable"): an error of type pool_test.incomparableError is not comparable`},
		{"errtest.bad-input", errors.New("again"), `pool.RegisterError: error "errtest.bad-input" registered twice`},
	} {
		msg := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			pool.RegisterError(tc.name, tc.err)
			return "no panic"
		}()
		if !strings.HasPrefix(msg, tc.want) {
			t.Errorf("RegisterError(%q, %v) panicked with %q; want %q", tc.name, tc.err, msg, tc.want)
		}
	}
	te := &pool.TaskError{Func: "f", Index: 1, Message: "m", Code: "errtest.never-declared"}
	if errors.Is(te, errBadInput) || te.Unwrap() != nil {
		t.Errorf("a code this program does not declare unwraps to %v", te.Unwrap())
	}
}

type incomparableError struct{ details []string }

func (incomparableError) Error() string { return "incomparable" }
