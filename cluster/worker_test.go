package cluster

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/clustertest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
)

func TestNewWorkerDefaults(t *testing.T) {
	w, err := NewWorker(config.Client{JobServers: []string{"127.0.0.1:4730"}}, config.Worker{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Slots() != runtime.GOMAXPROCS(0) {
		t.Errorf("Slots() = %d, want GOMAXPROCS %d", w.Slots(), runtime.GOMAXPROCS(0))
	}
	m := clustertest.WorkerIDPattern.FindStringSubmatch(w.ID())
	if m == nil || m[1] != strconv.Itoa(os.Getpid()) {
		t.Errorf("ID() = %q, want host-%d-random", w.ID(), os.Getpid())
	}
	if got, want := w.Functions(), functionNames(wire.Functions()); !slices.Equal(got, want) {
		t.Errorf("Functions() = %v, want every registered one %v", got, want)
	}
	st := w.Stats()
	if st.PID != os.Getpid() || st.WorkerID != w.ID() || st.Slots != w.Slots() || st.Requests != 0 || st.MeanBusy() != 0 {
		t.Errorf("Stats() of a new worker = %+v", st)
	}
	// Never run: Shutdown and Close must still work, and Run then ends.
	if err := w.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.Run(); !errors.Is(err, ErrWorkerClosed) || !errors.Is(err, gearman.ErrWorkerClosed) {
		t.Fatalf("Run after Shutdown = %v, want ErrWorkerClosed", err)
	}
}

func TestNewWorkerUnknownFunctions(t *testing.T) {
	_, err := NewWorker(config.Client{JobServers: []string{"127.0.0.1:4730"}},
		config.Worker{Functions: []string{"examples.square", "nope", "glimpse.examples.hex"}})
	var ue *UnknownFunctionsError
	if !errors.As(err, &ue) {
		t.Fatalf("NewWorker with unknown functions: %v, want an *UnknownFunctionsError", err)
	}
	if !slices.Equal(ue.Names, []string{"nope", "glimpse.examples.hex"}) {
		t.Errorf("Names = %q", ue.Names)
	}
	for _, want := range []string{`"nope"`, `"glimpse.examples.hex" (did you mean examples.hex?)`, "examples.countprimes, examples.hex, examples.identity, examples.lookup, examples.square"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestNewWorkerBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client config.Client
		worker config.Worker
		want   string
	}{
		{"no job server", config.Client{}, config.Worker{}, "job_server_url"},
		{"negative slots", config.Client{JobServers: []string{"127.0.0.1:4730"}}, config.Worker{Slots: -1}, "slots"},
		{"duplicate function", config.Client{JobServers: []string{"127.0.0.1:4730"}},
			config.Worker{Functions: []string{"examples.hex", "examples.hex"}}, "twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewWorker(tc.client, tc.worker)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewWorker: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := selectFunctions(nil, nil); err == nil || !strings.Contains(err.Error(), "pool.Register") {
		t.Errorf("no registered functions: %v", err)
	}
}

func TestWorkerID(t *testing.T) {
	id := newWorkerID("my host/with spaces", 42)
	if !regexp.MustCompile(`^my_host_with_spaces-42-[0-9a-f]{8}$`).MatchString(id) {
		t.Errorf("newWorkerID = %q", id)
	}
	if id2 := newWorkerID("my host/with spaces", 42); id2 == id {
		t.Errorf("two ids for the same host and pid are equal: %q", id)
	}
	if id := newWorkerID("", 7); !strings.HasPrefix(id, "localhost-7-") {
		t.Errorf("newWorkerID with no host name = %q", id)
	}
}

// TestWorkerServesAndCounts runs a Worker in this process and checks what
// reaches the client and what Stats says.
func TestWorkerServesAndCounts(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	hold := fakeFunc{FuncName: "test.hold", Run: func(ctx context.Context, payload []byte, worker string) ([]byte, error) {
		started <- struct{}{}
		<-release
		if string(payload) == "fail" {
			return nil, &gearman.JobException{Data: []byte("failed on purpose\nsecond line")}
		}
		return []byte(worker + " got " + string(payload)), nil
	}}
	square, _ := wire.Lookup("examples.square")
	w, err := NewWorker(config.Client{JobServers: []string{srv.Addr()}}, config.Worker{Slots: 2},
		WithFunctions(hold, square), WithLogger(newLogger(testWriter{T: t}, slog.LevelDebug)))
	if err != nil {
		t.Fatal(err)
	}
	var runErr error
	ran := make(chan struct{})
	go func() {
		runErr = w.Run()
		close(ran)
	}()
	t.Cleanup(func() {
		w.Close()
		<-ran
	})
	info := waitWorker(t, ctx, srv.Addr(), "glimpse.test.hold", "glimpse.examples.square")
	if want := wire.WorkerClientID(w.ID(), 2); info.ClientID != want {
		t.Errorf("client id %q, want %q", info.ClientID, want)
	}

	c := newClient(t, ctx, srv.Addr())
	task, err := c.Submit(ctx, "glimpse.test.hold", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if st := w.Stats(); st.Active != 1 || st.Requests != 0 {
		t.Errorf("Stats while a chunk runs: Active %d, Requests %d; want 1, 0", st.Active, st.Requests)
	}
	release <- struct{}{}
	got, err := task.Wait(ctx)
	if err != nil || string(got) != w.ID()+" got x" {
		t.Fatalf("result %q, %v; want the worker id and the payload", got, err)
	}

	task, err = c.Submit(ctx, "glimpse.test.hold", []byte("fail"))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	release <- struct{}{}
	_, err = task.Wait(ctx)
	var ex *gearman.JobException
	if !errors.As(err, &ex) || string(ex.Data) != "failed on purpose\nsecond line" {
		t.Fatalf("failing chunk: %v, want its exception unchanged", err)
	}
	st := w.Stats()
	if st.Requests != 2 || st.Failures != 1 || st.Active != 0 || st.Busy <= 0 || st.LastError != "failed on purpose" || st.LastErrorTime.IsZero() {
		t.Errorf("Stats after two chunks, one failed: %+v", st)
	}
	if st.MeanBusy() != st.Busy/2 {
		t.Errorf("MeanBusy() = %v, want Busy/2 = %v", st.MeanBusy(), st.Busy/2)
	}

	// A real registered function given a payload that is not a chunk:
	// RunChunk's *gearman.JobException reaches the client.
	_, err = c.Call(ctx, "glimpse.examples.square", []byte("not a chunk"))
	if !errors.As(err, &ex) || ex.Function != "glimpse.examples.square" || len(ex.Data) == 0 {
		t.Fatalf("malformed chunk: %v, want a *gearman.JobException", err)
	}
	if st := w.Stats(); st.Failures != 2 || st.LastError == "" {
		t.Errorf("Stats after a malformed chunk: %+v", st)
	}

	if err := w.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-ran
	if !errors.Is(runErr, ErrWorkerClosed) {
		t.Fatalf("Run = %v, want ErrWorkerClosed", runErr)
	}
}
