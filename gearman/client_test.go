package gearman_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/countproxy"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

func newClient(t *testing.T, addrs ...string) *gearman.Client {
	t.Helper()
	c, err := gearman.NewClient(testenv.ContextWithin(t, time.Minute), addrs, gearman.WithBackoff(5*time.Millisecond, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// runWorker runs a worker serving funcs until the test ends; it does not
// wait for the worker to register (its servers may be fakes).
func runWorker(t *testing.T, addrs []string, funcs map[string]gearman.JobFunc, opts ...gearman.WorkerOption) *gearman.Worker {
	t.Helper()
	w, err := gearman.NewWorker(addrs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for name, fn := range funcs {
		if err := w.Register(name, fn); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- w.Run() }()
	t.Cleanup(func() {
		w.Close()
		if err := <-done; !errors.Is(err, gearman.ErrWorkerClosed) {
			t.Errorf("Run returned %v, want ErrWorkerClosed", err)
		}
	})
	return w
}

// startWorker runs a worker serving funcs and waits until every server
// lists it for each function.
func startWorker(t *testing.T, addrs []string, funcs map[string]gearman.JobFunc, opts ...gearman.WorkerOption) *gearman.Worker {
	t.Helper()
	opts = append([]gearman.WorkerOption{gearman.WithBackoff(5*time.Millisecond, 100*time.Millisecond)}, opts...)
	w := runWorker(t, addrs, funcs, opts...)
	for _, a := range addrs {
		for name := range funcs {
			waitWorkers(t, a, name, 1)
		}
	}
	return w
}

// waitWorkers waits until the server at addr lists at least n workers
// for fn.
func waitWorkers(t *testing.T, addr, fn string, n int) {
	t.Helper()
	waitStatus(t, addr, fn, func(s gearman.FunctionStatus) bool { return s.Workers >= n })
}

func waitStatus(t *testing.T, addr, fn string, ok func(gearman.FunctionStatus) bool) gearman.FunctionStatus {
	t.Helper()
	ctx := testenv.ContextWithin(t, time.Minute)
	a, err := gearman.DialAdmin(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for {
		st, err := a.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st {
			if s.Name == fn && ok(s) {
				return s
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: status of %s never reached the expected state; last: %+v", addr, fn, st)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func echo(_ context.Context, j *gearman.Job) ([]byte, error) { return j.Data, nil }

func TestCallEchoStatusBackground(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{"echo": echo})
	c := newClient(t, srv.Addr())

	got, err := c.Call(ctx, "echo", []byte("hello\x00world"))
	if err != nil || string(got) != "hello\x00world" {
		t.Fatalf("Call = %q, %v", got, err)
	}
	if got, err := c.Echo(ctx, []byte("ping")); err != nil || string(got) != "ping" {
		t.Fatalf("Echo = %q, %v", got, err)
	}
	// Nobody serves "later": the background job stays queued and known.
	h, err := c.SubmitBackground(ctx, "later", []byte("x"), gearman.WithPriority(gearman.PriorityLow))
	if err != nil || h.Server != srv.Addr() || h.Handle == "" {
		t.Fatalf("SubmitBackground = %+v, %v", h, err)
	}
	st, err := c.Status(ctx, h)
	if err != nil || !st.Known || st.Running {
		t.Fatalf("Status = %+v, %v; want known and not running", st, err)
	}
	st, err = c.Status(ctx, gearman.JobHandle{Server: srv.Addr(), Handle: "H:nope:1"})
	if err != nil || st.Known {
		t.Fatalf("Status of unknown job = %+v, %v", st, err)
	}
}

func TestSubmitRejectsBadInput(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	c := newClient(t, srv.Addr())
	tooLong := strings.Repeat("u", gearman.MaxUniqueSize+1)
	if _, err := c.Submit(ctx, "f", nil, gearman.WithUnique(tooLong)); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d bytes", len(tooLong))) {
		t.Fatalf("%d-byte unique id: %v", len(tooLong), err)
	}
	if _, err := c.Submit(ctx, "", nil); err == nil || !strings.Contains(err.Error(), "empty function") {
		t.Fatalf("empty function: %v", err)
	}
	if _, err := c.Submit(ctx, "f", nil, gearman.WithRunAt(time.Now())); err == nil {
		t.Fatal("foreground job with WithRunAt accepted")
	}
	// The connection is still good after the rejections.
	if _, err := c.Echo(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := gearman.NewClient(ctx, []string{"127.0.0.1:99999"}); err == nil || !strings.Contains(err.Error(), "99999") {
		t.Fatalf("bad port: %v", err)
	}
	port := testenv.FreePort(t)
	_, err := gearman.NewClient(ctx, []string{fmt.Sprintf("127.0.0.1:%d", port)})
	if err == nil || !strings.Contains(err.Error(), "no job server reachable") {
		t.Fatalf("no server: %v", err)
	}
}

func TestThousandConcurrentSubmitters(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{"echo": echo}, gearman.WithConcurrency(8))
	c := newClient(t, srv.Addr())
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 5 {
				in := []byte(fmt.Sprintf("submitter %d call %d", i, k))
				out, err := c.Call(ctx, "echo", in)
				if err == nil && !bytes.Equal(in, out) {
					err = fmt.Errorf("sent %q, got %q", in, out)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSharedUniqueCoalesces(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	var runs atomic.Int32
	release := make(chan struct{})
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"once": func(ctx context.Context, j *gearman.Job) ([]byte, error) {
			runs.Add(1)
			<-release // all three have joined the job by now
			j.SendData([]byte("part"))
			return []byte("result"), nil
		},
	})
	c1, c2 := newClient(t, srv.Addr()), newClient(t, srv.Addr())
	// Two tasks on one connection and one on another share the unique id.
	var tasks []*gearman.Task
	var data atomic.Int32
	for _, c := range []*gearman.Client{c1, c1, c2} {
		task, err := c.Submit(ctx, "once", []byte("in"), gearman.WithUnique("shared-id"),
			gearman.WithUpdates(func(u gearman.Update) { data.Add(1) }))
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, task)
	}
	if tasks[0].Handle() != tasks[1].Handle() {
		t.Fatalf("handles differ: %v and %v", tasks[0].Handle(), tasks[1].Handle())
	}
	close(release)
	for i, task := range tasks {
		got, err := task.Wait(ctx)
		if err != nil || string(got) != "result" {
			t.Fatalf("task %d: %q, %v", i, got, err)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("the job ran %d times, want once", n)
	}
	if n := data.Load(); n != 3 {
		t.Fatalf("%d WORK_DATA deliveries, want one per task (3)", n)
	}
}

func TestExceptionsAndPanicsReachTheClient(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"fail":  func(context.Context, *gearman.Job) ([]byte, error) { return nil, errors.New("disk on fire") },
		"panic": func(context.Context, *gearman.Job) ([]byte, error) { panic("index out of patience") },
		"raw": func(context.Context, *gearman.Job) ([]byte, error) {
			return nil, &gearman.JobException{Data: []byte{0, 1, 2}}
		},
		"echo": echo,
	}, gearman.WithConcurrency(1))
	c := newClient(t, srv.Addr())

	_, err := c.Call(ctx, "fail", nil)
	var ex *gearman.JobException
	if !errors.As(err, &ex) || string(ex.Data) != "disk on fire" || ex.Function != "fail" {
		t.Fatalf("error job: %v", err)
	}
	_, err = c.Call(ctx, "panic", nil)
	if !errors.As(err, &ex) || !strings.Contains(string(ex.Data), "panic: index out of patience") ||
		!strings.Contains(string(ex.Data), "client_test.go") {
		t.Fatalf("panicking job: %v, want the panic value and its stack", err)
	}
	_, err = c.Call(ctx, "raw", nil)
	if !errors.As(err, &ex) || !bytes.Equal(ex.Data, []byte{0, 1, 2}) {
		t.Fatalf("raw exception: %v", err)
	}
	// The worker survived the panic and still serves (concurrency 1).
	if got, err := c.Call(ctx, "echo", []byte("alive")); err != nil || string(got) != "alive" {
		t.Fatalf("after panic: %q, %v", got, err)
	}
	// The exception ended the job at the server: nothing is left queued.
	waitStatus(t, srv.Addr(), "panic", func(s gearman.FunctionStatus) bool { return s.Queued == 0 })
}

func TestUpdatesStreamInOrder(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"stream": func(_ context.Context, j *gearman.Job) ([]byte, error) {
			for i := range 3 {
				j.SendData([]byte(strconv.Itoa(i)))
				j.SendStatus(uint64(i+1), 3)
			}
			j.SendWarning([]byte("careful"))
			return []byte("done"), nil
		},
	})
	c := newClient(t, srv.Addr())
	var got []string
	res, err := c.Call(ctx, "stream", nil, gearman.WithUpdates(func(u gearman.Update) {
		switch u.Kind {
		case gearman.UpdateData:
			got = append(got, "data:"+string(u.Data))
		case gearman.UpdateStatus:
			got = append(got, fmt.Sprintf("status:%d/%d", u.Numerator, u.Denom))
		case gearman.UpdateWarning:
			got = append(got, "warning:"+string(u.Data))
		}
	}))
	want := "data:0 status:1/3 data:1 status:2/3 data:2 status:3/3 warning:careful"
	if err != nil || string(res) != "done" || strings.Join(got, " ") != want {
		t.Fatalf("got %q, %v, updates %v; want updates %s", res, err, got, want)
	}
}

func TestPrioritiesHonoured(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	c := newClient(t, srv.Addr())
	// Queue low, normal and high jobs while nobody serves the function.
	order := []gearman.Priority{gearman.PriorityLow, gearman.PriorityNormal, gearman.PriorityHigh}
	for range 3 {
		for _, p := range order {
			if _, err := c.SubmitBackground(ctx, "prio", []byte(p.String()), gearman.WithPriority(p)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var mu sync.Mutex
	var ran []string
	done := make(chan struct{})
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"prio": func(_ context.Context, j *gearman.Job) ([]byte, error) {
			mu.Lock()
			defer mu.Unlock()
			ran = append(ran, string(j.Data))
			if len(ran) == 9 {
				close(done)
			}
			return nil, nil
		},
	}, gearman.WithConcurrency(1))
	<-done
	want := "high high high normal normal normal low low low"
	if got := strings.Join(ran, " "); got != want {
		t.Fatalf("ran %s, want %s", got, want)
	}
}

func TestWorkerKilledWhileHoldingJob(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	holder, held := startHoldingWorker(t, srv.Addr(), "survive")
	waitWorkers(t, srv.Addr(), "survive", 1)
	c := newClient(t, srv.Addr())
	task, err := c.Submit(ctx, "survive", []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case h := <-held:
		if h != task.Handle().Handle {
			t.Fatalf("holder got %s, submitted %s", h, task.Handle().Handle)
		}
	case <-ctx.Done():
		t.Fatal("the worker process never took the job")
	}
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"survive": func(_ context.Context, j *gearman.Job) ([]byte, error) {
			return append([]byte("rescued "), j.Data...), nil
		},
	})
	if err := holder.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	got, err := task.Wait(ctx)
	if err != nil || string(got) != "rescued payload" {
		t.Fatalf("after killing the holder: %q, %v", got, err)
	}
}

func TestGearmandRestart(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	started := make(chan struct{}, 1)
	var jobCtxErr atomic.Value
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"echo": echo,
		"hold": func(ctx context.Context, j *gearman.Job) ([]byte, error) {
			started <- struct{}{}
			<-ctx.Done()
			jobCtxErr.Store(ctx.Err())
			return nil, ctx.Err()
		},
	})
	c := newClient(t, srv.Addr())
	task, err := c.Submit(ctx, "hold", nil)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = task.Wait(ctx)
	if !errors.Is(err, gearman.ErrConnectionLost) || !strings.Contains(err.Error(), srv.Addr()) {
		t.Fatalf("in-flight task: %v, want ErrConnectionLost naming the server", err)
	}
	// Both sides reconnect by themselves; the worker registers again.
	waitWorkers(t, srv.Addr(), "echo", 1)
	if got, err := c.Call(ctx, "echo", []byte("again")); err != nil || string(got) != "again" {
		t.Fatalf("after restart: %q, %v", got, err)
	}
	if jobCtxErr.Load() == nil {
		t.Fatal("the held job's context was not cancelled when its connection broke")
	}
}

func TestTwoServersSpreadAndFailOver(t *testing.T) {
	a, b := testenv.Gearmand(t), testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	var mu sync.Mutex
	seen := map[string]int{}
	startWorker(t, []string{a.Addr(), b.Addr()}, map[string]gearman.JobFunc{
		"echo": echo,
	})
	c := newClient(t, a.Addr(), b.Addr())
	for i := range 200 {
		task, err := c.Submit(ctx, "echo", []byte("x"), gearman.WithUnique("job-"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := task.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		seen[task.Handle().Server]++
		mu.Unlock()
	}
	if seen[a.Addr()] == 0 || seen[b.Addr()] == 0 {
		t.Fatalf("jobs per server %v: want both used", seen)
	}
	// With a gone, every job goes to b, including those a would get.
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		got, err := c.Call(ctx, "echo", []byte("y"), gearman.WithUnique("after-"+strconv.Itoa(i)))
		if err != nil || string(got) != "y" {
			t.Fatalf("after losing a: %q, %v", got, err)
		}
	}
	if up := c.Servers(); up[a.Addr()] || !up[b.Addr()] {
		t.Fatalf("Servers() = %v", up)
	}
}

func TestCPeers(t *testing.T) {
	if _, err := exec.LookPath("gearman"); err != nil {
		t.Fatal("the gearman command is missing: install the Debian package gearman-tools")
	}
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	host, port, _ := strings.Cut(srv.Addr(), ":")

	// The C client calls a function served by our Worker.
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"go_upper": func(_ context.Context, j *gearman.Job) ([]byte, error) { return bytes.ToUpper(j.Data), nil },
	})
	out, err := exec.CommandContext(ctx, "gearman", "-h", host, "-p", port, "-f", "go_upper", "hello from c").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "HELLO FROM C" {
		t.Fatalf("C client: %q, %v", out, err)
	}

	// Our Client calls a function served by the C worker.
	cw := exec.Command("gearman", "-h", host, "-p", port, "-w", "-f", "c_rev", "--", "rev")
	cw.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cw.Process.Kill(); cw.Wait() })
	waitWorkers(t, srv.Addr(), "c_rev", 1)
	c := newClient(t, srv.Addr())
	got, err := c.Call(ctx, "c_rev", []byte("hello from go\n"))
	if err != nil || string(got) != "og morf olleh\n" {
		t.Fatalf("C worker: %q, %v", got, err)
	}
}

func TestClientCloseFailsTasksInFlight(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	c, err := gearman.NewClient(ctx, []string{srv.Addr()}, gearman.WithClientID("closing-client"))
	if err != nil {
		t.Fatal(err)
	}
	task, err := c.Submit(ctx, "nobody_serves_this", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := task.Result(); !errors.Is(err, gearman.ErrClientClosed) {
		t.Fatalf("task after Close: %v", err)
	}
	if _, err := c.Call(ctx, "x", nil); !errors.Is(err, gearman.ErrClientClosed) {
		t.Fatalf("Call after Close: %v", err)
	}
	// gearmand drops the foreground job of the client that left once a
	// worker asks for it, so the worker never runs it. (It must have seen
	// the client leave first: connections live on different threads.)
	a, err := gearman.DialAdmin(ctx, srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for gone := false; !gone; {
		ws, err := a.Workers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		gone = !slices.ContainsFunc(ws, func(w gearman.WorkerInfo) bool { return w.ClientID == "closing-client" })
		time.Sleep(2 * time.Millisecond)
	}
	var ran atomic.Bool
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"nobody_serves_this": func(context.Context, *gearman.Job) ([]byte, error) { ran.Store(true); return nil, nil },
	})
	waitStatus(t, srv.Addr(), "nobody_serves_this", func(s gearman.FunctionStatus) bool { return s.Queued == 0 })
	if ran.Load() {
		t.Fatal("a job whose client closed was run")
	}
}

// TestDeferredDispatchWaitsForFlush: submissions dispatched with
// WithDeferredWrite reach the job server only at Flush, together,
// and every one of them runs once.
func TestDeferredDispatchWaitsForFlush(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	var ran atomic.Int64
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{"count": func(_ context.Context, j *gearman.Job) ([]byte, error) {
		ran.Add(1)
		return j.Data, nil
	}})
	proxy, err := countproxy.Listen(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	c := newClient(t, proxy.Addr())
	if _, err := c.Echo(ctx, []byte("ready")); err != nil {
		t.Fatal(err)
	}
	// The proxy counts the echo's bytes a moment after they pass, and the
	// write that sent them ends a moment after its answer came (it would
	// take queued packets along): wait until the count stands still.
	before := proxy.Up()
	for {
		time.Sleep(20 * time.Millisecond)
		if up := proxy.Up(); up != before {
			before = up
			continue
		}
		break
	}
	var tasks []*gearman.Task
	for i := range 10 {
		task, err := c.Dispatch(ctx, "count", []byte(strconv.Itoa(i)), gearman.WithDeferredWrite())
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, task)
	}
	time.Sleep(50 * time.Millisecond)
	if up := proxy.Up(); up != before {
		t.Fatalf("%d bytes reached the job server before Flush", up-before)
	}
	c.Flush()
	for i, task := range tasks {
		out, err := task.Wait(ctx)
		if err != nil || string(out) != strconv.Itoa(i) {
			t.Fatalf("job %d = %q, %v", i, out, err)
		}
	}
	if n := ran.Load(); n != 10 {
		t.Fatalf("%d jobs ran, want 10", n)
	}
	// Submit waits for the job server's answer: it writes at once.
	if out, err := c.Call(ctx, "count", []byte("now"), gearman.WithDeferredWrite()); err != nil || string(out) != "now" {
		t.Fatalf("Call with WithDeferredWrite = %q, %v", out, err)
	}
}
