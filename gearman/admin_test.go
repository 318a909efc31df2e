//go:build unix

package gearman

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/testenv"
)

// adminTestGearmand starts a gearmand of its own for the test and returns
// its address.
func adminTestGearmand(t *testing.T) string {
	t.Helper()
	return testenv.Gearmand(t).Addr()
}

func adminTestReadFile(name string) string {
	b, _ := os.ReadFile(name)
	return string(b)
}

func adminTestDial(t *testing.T, addr string) *Admin {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := DialAdmin(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func adminTestCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func adminTestHostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}

func adminTestGearmanBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("gearman")
	if err != nil {
		t.Fatalf("the gearman command is needed to submit jobs and run workers; install it with: apt-get install gearman-tools (%v)", err)
	}
	return bin
}

// adminTestSubmit submits one background job with the gearman tool and
// returns what the tool printed. The tool exits 0 even when the server
// refuses the job, so callers look at the output.
func adminTestSubmit(t *testing.T, addr, function, data string, flags ...string) string {
	t.Helper()
	host, port := adminTestHostPort(t, addr)
	args := append([]string{"-h", host, "-p", port, "-b"}, flags...)
	args = append(args, "-f", function, data)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, adminTestGearmanBin(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("gearman %q: %v\n%s", args, err, out)
	}
	return string(out)
}

// adminTestWorker runs "gearman -w -f FUNCTION -- COMMAND..." in its own
// process group, which is killed when the test ends (the tool runs the
// command once per job). The returned channel is closed when it exits.
func adminTestWorker(t *testing.T, addr, function string, extra []string, command ...string) <-chan struct{} {
	t.Helper()
	host, port := adminTestHostPort(t, addr)
	args := append([]string{"-h", host, "-p", port, "-w", "-f", function}, extra...)
	args = append(args, "--")
	args = append(args, command...)
	cmd := exec.Command(adminTestGearmanBin(t), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() && out.Len() > 0 {
			t.Logf("gearman worker output:\n%s", out.String())
		}
	})
	return done
}

// adminTestRawWorker registers functions on a plain connection with the
// binary SET_CLIENT_ID and CAN_DO packets (the gearman tool cannot set a
// client id). The connection stays open until the test ends.
func adminTestRawWorker(t *testing.T, addr, clientID string, functions ...string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	pkt := func(typ uint32, data string) []byte {
		b := []byte("\x00REQ")
		b = binary.BigEndian.AppendUint32(b, typ)
		b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
		return append(b, data...)
	}
	var buf []byte
	buf = append(buf, pkt(22, clientID)...) // SET_CLIENT_ID
	for _, f := range functions {
		buf = append(buf, pkt(1, f)...) // CAN_DO
	}
	if _, err := c.Write(buf); err != nil {
		t.Fatal(err)
	}
}

// adminTestEventually retries check until it returns "" or time runs out.
func adminTestEventually(t *testing.T, check func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func adminTestFind(t *testing.T, a *Admin, function string) (FunctionStatus, bool) {
	t.Helper()
	st, err := a.Status(adminTestCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Name == function {
			return s, true
		}
	}
	return FunctionStatus{}, false
}

func adminTestFindPriority(t *testing.T, a *Admin, function string) FunctionPriorityStatus {
	t.Helper()
	st, err := a.PriorityStatus(adminTestCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Name == function {
			return s
		}
	}
	t.Fatalf("prioritystatus has no %q: %+v", function, st)
	return FunctionPriorityStatus{}
}

func TestAdminStatus(t *testing.T) {
	t.Parallel()
	addr := adminTestGearmand(t)
	a := adminTestDial(t, addr)
	ctx := adminTestCtx(t)

	st, err := a.Status(ctx)
	if err != nil || len(st) != 0 {
		t.Fatalf("Status on a fresh server = %+v, %v; want none", st, err)
	}

	const fn = "adm.status:q-1" // '.', ':' and '-' are fine in names
	adminTestSubmit(t, addr, fn, "n1")
	adminTestSubmit(t, addr, fn, "n2")
	adminTestSubmit(t, addr, fn, "h1", "-I")
	adminTestSubmit(t, addr, fn, "l1", "-L")

	if s, ok := adminTestFind(t, a, fn); !ok || s != (FunctionStatus{Name: fn, Queued: 4}) {
		t.Fatalf("status of %s = %+v (found %v); want 4 queued, nothing running, no worker", fn, s, ok)
	}
	if p := adminTestFindPriority(t, a, fn); p != (FunctionPriorityStatus{Name: fn, High: 1, Normal: 2, Low: 1}) {
		t.Fatalf("prioritystatus of %s = %+v", fn, p)
	}

	// A worker that takes the high priority job and sits on it.
	adminTestWorker(t, addr, fn, nil, "sleep", "60")
	want := FunctionStatus{Name: fn, Queued: 4, Running: 1, Workers: 1}
	adminTestEventually(t, func() string {
		if s, _ := adminTestFind(t, a, fn); s != want {
			return fmt.Sprintf("status of %s = %+v; want %+v", fn, s, want)
		}
		return ""
	})
	// Running jobs are not counted by prioritystatus.
	if p := adminTestFindPriority(t, a, fn); p != (FunctionPriorityStatus{Name: fn, High: 0, Normal: 2, Low: 1, Workers: 1}) {
		t.Fatalf("prioritystatus of %s with a worker = %+v", fn, p)
	}
	jobs, err := a.Jobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 4 {
		t.Fatalf("show jobs = %+v; want 4 jobs", jobs)
	}
	for _, j := range jobs {
		if !strings.HasPrefix(j.Handle, "H:") || j.Ignored || !j.Persistent || j.Retries != 0 {
			t.Errorf("show jobs line %+v; want a background job not ignored", j)
		}
	}
}

func TestAdminWorkers(t *testing.T) {
	t.Parallel()
	addr := adminTestGearmand(t)
	a := adminTestDial(t, addr)

	adminTestRawWorker(t, addr, "adm-test:7", "adm.w.one", "adm.w:two")
	adminTestWorker(t, addr, "adm.w.cli", nil, "cat")

	var ws []WorkerInfo
	adminTestEventually(t, func() string {
		var err error
		ws, err = a.Workers(adminTestCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		var raw, cli bool
		for _, w := range ws {
			raw = raw || w.ClientID == "adm-test:7" && len(w.Functions) == 2
			cli = cli || slices.Equal(w.Functions, []string{"adm.w.cli"})
		}
		if !raw || !cli {
			return fmt.Sprintf("workers = %+v; want both workers registered", ws)
		}
		return ""
	})
	var idle int
	for _, w := range ws {
		if w.FD <= 0 || w.Addr != "127.0.0.1" {
			t.Errorf("worker %+v: want a positive FD and address 127.0.0.1", w)
		}
		switch {
		case w.ClientID == "adm-test:7":
			got := slices.Sorted(slices.Values(w.Functions))
			if !slices.Equal(got, []string{"adm.w.one", "adm.w:two"}) {
				t.Errorf("functions of adm-test:7 = %q", w.Functions)
			}
		case len(w.Functions) == 1:
			if w.ClientID != "" {
				t.Errorf("gearman tool worker has client id %q; want \"\" (unset)", w.ClientID)
			}
		case len(w.Functions) == 0:
			idle++ // this Admin's own connection
		default:
			t.Errorf("unexpected connection %+v", w)
		}
	}
	if idle < 1 {
		t.Errorf("workers = %+v; want a connection without functions (ours)", ws)
	}
}

func TestAdminInfo(t *testing.T) {
	t.Parallel()
	srv := testenv.Gearmand(t)
	addr := srv.Addr()
	a := adminTestDial(t, addr)
	ctx := adminTestCtx(t)

	v, err := a.Version(ctx)
	if err != nil || v == "" || strings.HasPrefix(v, "OK") {
		t.Fatalf("Version = %q, %v", v, err)
	}
	t.Logf("gearmand version %q", v)

	if pid, err := a.PID(ctx); err != nil || pid != srv.Pid() {
		t.Errorf("PID = %d, %v; want %d", pid, err, srv.Pid())
	}

	lvl, err := a.Verbose(ctx)
	if err != nil || lvl == "" {
		t.Fatalf("Verbose = %q, %v", lvl, err)
	}

	const uniq = "adm-unique-1"
	adminTestSubmit(t, addr, "adm.uniq", "x", "-u", uniq)
	us, err := a.UniqueJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(us, func(u AdminUniqueJob) bool { return u.Unique == uniq }) {
		t.Errorf("UniqueJobs = %+v; want %q among them", us, uniq)
	}
}

func TestAdminMaxQueue(t *testing.T) {
	t.Parallel()
	addr := adminTestGearmand(t)
	a := adminTestDial(t, addr)
	ctx := adminTestCtx(t)
	full := func(out string) bool { return strings.Contains(strings.ToLower(out), "queue is full") }
	queued := func(fn string) int {
		s, _ := adminTestFind(t, a, fn)
		return s.Queued
	}

	t.Run("unknown function is ignored", func(t *testing.T) {
		const fn = "adm.mq.unknown"
		if err := a.MaxQueue(ctx, fn, 1); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if out := adminTestSubmit(t, addr, fn, strconv.Itoa(i)); full(out) {
				t.Fatalf("job %d refused: %s", i, out)
			}
		}
		if n := queued(fn); n != 2 {
			t.Fatalf("queued = %d; want 2", n)
		}
	})

	t.Run("one size", func(t *testing.T) {
		const fn = "adm.mq:one"
		if err := a.CreateFunction(ctx, fn); err != nil {
			t.Fatal(err)
		}
		if err := a.MaxQueue(ctx, fn, 2); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if out := adminTestSubmit(t, addr, fn, strconv.Itoa(i)); full(out) {
				t.Fatalf("job %d refused: %s", i, out)
			}
		}
		if out := adminTestSubmit(t, addr, fn, "over"); !full(out) {
			t.Fatalf("job over the limit: tool printed %q; want a queue full error", out)
		}
		if n := queued(fn); n != 2 {
			t.Fatalf("queued = %d; want 2", n)
		}
		// No size lifts the limit.
		if err := a.MaxQueue(ctx, fn); err != nil {
			t.Fatal(err)
		}
		if out := adminTestSubmit(t, addr, fn, "after"); full(out) {
			t.Fatalf("job refused after the limit was lifted: %s", out)
		}
		if n := queued(fn); n != 3 {
			t.Fatalf("queued = %d; want 3", n)
		}
	})

	t.Run("per priority", func(t *testing.T) {
		const fn = "adm.mq.prio"
		if err := a.CreateFunction(ctx, fn); err != nil {
			t.Fatal(err)
		}
		if err := a.MaxQueue(ctx, fn, 0, 0, 1); err != nil { // high, normal, low
			t.Fatal(err)
		}
		if out := adminTestSubmit(t, addr, fn, "n"); full(out) {
			t.Fatalf("normal job refused: %s", out)
		}
		// The low limit is compared with all the function's jobs.
		if out := adminTestSubmit(t, addr, fn, "l", "-L"); !full(out) {
			t.Fatalf("low job over the limit: tool printed %q; want a queue full error", out)
		}
		if out := adminTestSubmit(t, addr, fn, "h", "-I"); full(out) {
			t.Fatalf("high job refused: %s", out)
		}
		if p := adminTestFindPriority(t, a, fn); p != (FunctionPriorityStatus{Name: fn, High: 1, Normal: 1}) {
			t.Fatalf("prioritystatus = %+v", p)
		}
	})

	t.Run("bad arguments", func(t *testing.T) {
		for _, tc := range []struct {
			fn    string
			sizes []int
		}{
			{"adm.mq.prio", []int{1, 2}},
			{"adm.mq.prio", []int{1, 2, 3, 4}},
			{"adm.mq.prio", []int{-1}},
			{"two words", []int{1}},
			{"", []int{1}},
			{"line\nbreak", nil},
		} {
			err := a.MaxQueue(ctx, tc.fn, tc.sizes...)
			var ae *AdminError
			if err == nil || errors.As(err, &ae) {
				t.Errorf("MaxQueue(%q, %v) = %v; want a local error", tc.fn, tc.sizes, err)
			}
		}
	})
}

func TestAdminCancelJob(t *testing.T) {
	t.Parallel()
	addr := adminTestGearmand(t)
	a := adminTestDial(t, addr)
	ctx := adminTestCtx(t)
	const fn = "adm.cancel"

	adminTestSubmit(t, addr, fn, "drop-me")
	jobs, err := a.Jobs(ctx)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Jobs = %+v, %v; want one", jobs, err)
	}
	h := jobs[0].Handle
	if err := a.CancelJob(ctx, h); err != nil {
		t.Fatal(err)
	}
	// gearmand only marks the job: it stays listed and counted ...
	jobs, err = a.Jobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []AdminJob{{Handle: h, Ignored: true}}; !slices.Equal(jobs, want) {
		t.Fatalf("Jobs after cancel = %+v; want %+v", jobs, want)
	}

	// ... until a worker asks for work: then it is dropped, not run.
	adminTestSubmit(t, addr, fn, "keep-me")
	out := filepath.Join(t.TempDir(), "ran")
	done := adminTestWorker(t, addr, fn, []string{"-c", "1"}, "tee", "-a", out)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not finish its job")
	}
	if got := adminTestReadFile(out); got != "keep-me" {
		t.Fatalf("worker ran %q; want only keep-me", got)
	}
	adminTestEventually(t, func() string {
		s, _ := adminTestFind(t, a, fn)
		jobs, err := a.Jobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.Queued != 0 || len(jobs) != 0 {
			return fmt.Sprintf("status %+v, jobs %+v; want no job left", s, jobs)
		}
		return ""
	})

	err = a.CancelJob(ctx, h)
	var ae *AdminError
	if !errors.As(err, &ae) || ae.Code != "UNKNOWN_JOB" || ae.Command != "cancel job "+h {
		t.Fatalf("cancelling a finished job: %v; want an UNKNOWN_JOB AdminError", err)
	}
	if err := a.CancelJob(ctx, ""); err == nil || errors.As(err, &ae) {
		t.Fatalf("CancelJob(\"\") = %v; want a local error", err)
	}
}

func TestAdminFunctions(t *testing.T) {
	t.Parallel()
	addr := adminTestGearmand(t)
	a := adminTestDial(t, addr)
	ctx := adminTestCtx(t)
	const fn = "adm.fn:x"

	if err := a.CreateFunction(ctx, fn); err != nil {
		t.Fatal(err)
	}
	if s, ok := adminTestFind(t, a, fn); !ok || s != (FunctionStatus{Name: fn}) {
		t.Fatalf("status after create = %+v, %v", s, ok)
	}
	if err := a.DropFunction(ctx, fn); err != nil {
		t.Fatal(err)
	}
	if _, ok := adminTestFind(t, a, fn); ok {
		t.Fatal("function still listed after drop")
	}
	err := a.DropFunction(ctx, fn)
	var ae *AdminError
	if !errors.As(err, &ae) || ae.Code != "" || ae.Message != "function not found" {
		t.Fatalf("dropping an unknown function: %#v; want AdminError \"function not found\"", err)
	}

	adminTestRawWorker(t, addr, "", "adm.fn.busy")
	adminTestEventually(t, func() string {
		if s, _ := adminTestFind(t, a, "adm.fn.busy"); s.Workers != 1 {
			return "worker did not register"
		}
		return ""
	})
	if err := a.DropFunction(ctx, "adm.fn.busy"); !errors.As(err, &ae) {
		t.Fatalf("dropping a function with a worker: %v; want an AdminError", err)
	}
}

func TestAdminErrorReply(t *testing.T) {
	t.Parallel()
	addr := adminTestGearmand(t)
	a := adminTestDial(t, addr)
	ctx := adminTestCtx(t)

	_, err := a.adminDo(ctx, "bogus", false, nil)
	var ae *AdminError
	if !errors.As(err, &ae) {
		t.Fatalf("unknown command: %v; want an AdminError", err)
	}
	if ae.Command != "bogus" || ae.Code != "UNKNOWN_COMMAND" || !strings.HasPrefix(ae.Message, "Unknown server command") {
		t.Fatalf("unknown command: %#v", ae)
	}
	if !strings.Contains(err.Error(), "UNKNOWN_COMMAND") {
		t.Errorf("Error() = %q", err)
	}

	// An ERR reply to a command with a multi-line reply.
	_, err = a.adminDo(ctx, "show nothing", true, nil)
	if !errors.As(err, &ae) || ae.Code != "UNKNOWN_SHOW_ARGUMENTS" {
		t.Fatalf("show nothing: %v", err)
	}

	// The connection is still in step.
	if v, err := a.Version(ctx); err != nil || v == "" {
		t.Fatalf("Version after errors = %q, %v", v, err)
	}
}

func TestAdminConcurrent(t *testing.T) {
	t.Parallel()
	addr := adminTestGearmand(t)
	a := adminTestDial(t, addr)
	adminTestSubmit(t, addr, "adm.conc", "x")
	ctx := adminTestCtx(t)

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				var err error
				switch (g + i) % 4 {
				case 0:
					var st []FunctionStatus
					if st, err = a.Status(ctx); err == nil && (len(st) != 1 || st[0].Name != "adm.conc") {
						err = fmt.Errorf("status = %+v", st)
					}
				case 1:
					_, err = a.Version(ctx)
				case 2:
					_, err = a.Workers(ctx)
				case 3:
					// A cancelled call in the mix must not upset the others.
					cctx, cancel := context.WithCancel(ctx)
					cancel()
					if _, err = a.Jobs(cctx); errors.Is(err, context.Canceled) {
						err = nil
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestAdminContextRealServer(t *testing.T) {
	t.Parallel()
	addr := adminTestGearmand(t)
	a := adminTestDial(t, addr)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Status(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Status with a cancelled ctx: %v", err)
	}
	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := a.Version(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Version past the deadline: %v", err)
	}
	if _, err := a.Version(adminTestCtx(t)); err != nil {
		t.Fatal(err)
	}

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Version(adminTestCtx(t)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Version after Close: %v; want net.ErrClosed", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// adminTestFake serves each accepted connection with serve, which gets the
// connection's number (from 0) and a reader of its command lines.
func adminTestFake(t *testing.T, serve func(n int, c net.Conn, r *bufio.Reader)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for n := 0; ; n++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				serve(n, c, bufio.NewReader(c))
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

func TestAdminContextCancel(t *testing.T) {
	t.Parallel()
	// The first connection never answers; later ones answer "version".
	addr := adminTestFake(t, func(n int, c net.Conn, r *bufio.Reader) {
		for {
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
			if n > 0 {
				io.WriteString(c, "OK 9.9\n")
			}
		}
	})
	a := adminTestDial(t, addr)

	prompt := func(what string, start time.Time) {
		t.Helper()
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s took %v", what, d)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	if _, err := a.Status(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Status, cancelled while waiting for the reply: %v", err)
	}
	prompt("cancel", start)

	// The silent connection was dropped; the next call dials again.
	if v, err := a.Version(adminTestCtx(t)); err != nil || v != "9.9" {
		t.Fatalf("Version after a cancelled call = %q, %v", v, err)
	}

	addr = adminTestFake(t, func(n int, c net.Conn, r *bufio.Reader) { io.Copy(io.Discard, r) })
	a = adminTestDial(t, addr)

	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := a.Workers(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Workers past the deadline: %v", err)
	}
	prompt("deadline", start)

	// A call stuck on the server holds the connection; another call waiting
	// for its turn still honours its own ctx, and Close ends the stuck one.
	stuck := make(chan error, 1)
	go func() {
		_, err := a.Status(context.Background())
		stuck <- err
	}()
	time.Sleep(50 * time.Millisecond)
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := a.Version(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Version waiting for its turn: %v", err)
	}
	prompt("waiting for the connection", start)

	start = time.Now()
	a.Close()
	select {
	case err := <-stuck:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("stuck Status after Close: %v; want net.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not end the stuck call")
	}
	prompt("close", start)
}

func TestAdminMalformedReplies(t *testing.T) {
	t.Parallel()
	replies := map[string]string{
		"status":         "fn\t1\t0\t0\nfn-bad\t1\tx\t0\n.\n",
		"prioritystatus": "fn\t1\t0\t0\n.\n",
		"workers":        "12 127.0.0.1 id-without-colon\n.\n",
		"show jobs":      "H:x:1\t0\t7\t1\n.\n",
		"version":        "OK\n",
		"getpid":         "OK nope\n",
		"verbose":        "INFO\n",
		"maxqueue f 1":   "YES\n",
	}
	var mu sync.Mutex
	var conns int
	addr := adminTestFake(t, func(n int, c net.Conn, r *bufio.Reader) {
		mu.Lock()
		conns++
		mu.Unlock()
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			cmd := strings.TrimRight(l, "\r\n")
			if cmd == "status cut" {
				io.WriteString(c, "fn\t1\t0\t0\n")
				return // EOF in the middle of the reply
			}
			io.WriteString(c, replies[cmd])
		}
	})
	a := adminTestDial(t, addr)
	ctx := adminTestCtx(t)

	check := func(cmd, bad string, err error) {
		t.Helper()
		var ae *AdminError
		if err == nil || errors.As(err, &ae) ||
			!strings.Contains(err.Error(), strconv.Quote(cmd)) || !strings.Contains(err.Error(), strconv.Quote(bad)) {
			t.Errorf("%s: error %v; want one naming the command and the line %q", cmd, err, bad)
		}
	}
	_, err := a.Status(ctx)
	check("status", "fn-bad\t1\tx\t0", err)
	_, err = a.PriorityStatus(ctx)
	check("prioritystatus", "fn\t1\t0\t0", err)
	_, err = a.Workers(ctx)
	check("workers", "12 127.0.0.1 id-without-colon", err)
	_, err = a.Jobs(ctx)
	check("show jobs", "H:x:1\t0\t7\t1", err)
	_, err = a.Version(ctx)
	check("version", "OK", err)
	_, err = a.PID(ctx)
	check("getpid", "OK nope", err)
	_, err = a.Verbose(ctx)
	check("verbose", "INFO", err)
	check("maxqueue f 1", "YES", a.MaxQueue(ctx, "f", 1))

	// Bad single-line replies may leave the stream out of step, so the
	// connection was replaced; bad multi-line ones were read to the end.
	mu.Lock()
	n := conns
	mu.Unlock()
	if n != 4 {
		t.Errorf("server saw %d connections; want 4", n)
	}

	_, err = a.adminDo(ctx, "status cut", true, nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reply cut short: %v; want io.ErrUnexpectedEOF", err)
	}
}

func TestAdminParseWorker(t *testing.T) {
	for _, tc := range []struct {
		line string
		want WorkerInfo
		ok   bool
	}{
		{"38 127.0.0.1 - :", WorkerInfo{FD: 38, Addr: "127.0.0.1", Functions: []string{}}, true},
		{"38 127.0.0.1 id:1 : a.b c:d", WorkerInfo{FD: 38, Addr: "127.0.0.1", ClientID: "id:1", Functions: []string{"a.b", "c:d"}}, true},
		{"39 127.0.0.1  : f.two", WorkerInfo{FD: 39, Addr: "127.0.0.1", Functions: []string{"f.two"}}, true},
		{"40 ::1 has space : f", WorkerInfo{FD: 40, Addr: "::1", ClientID: "has space", Functions: []string{"f"}}, true},
		{"41 10.0.0.1 a :b : f", WorkerInfo{FD: 41, Addr: "10.0.0.1", ClientID: "a :b", Functions: []string{"f"}}, true},
		{"-1 127.0.0.1 - :", WorkerInfo{FD: -1, Addr: "127.0.0.1", Functions: []string{}}, true}, // closing
		{"--1 127.0.0.1 - :", WorkerInfo{}, false},
		{"x 127.0.0.1 - :", WorkerInfo{}, false},
		{"38 127.0.0.1 -", WorkerInfo{}, false},
		{"38", WorkerInfo{}, false},
		{"", WorkerInfo{}, false},
	} {
		got, ok := adminParseWorker(tc.line)
		if ok != tc.ok || ok && (got.FD != tc.want.FD || got.Addr != tc.want.Addr ||
			got.ClientID != tc.want.ClientID || !slices.Equal(got.Functions, tc.want.Functions)) {
			t.Errorf("adminParseWorker(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func TestAdminParseErr(t *testing.T) {
	for _, tc := range []struct {
		line string
		want AdminError
	}{
		{"ERR UNKNOWN_COMMAND Unknown+server+commandbogus", AdminError{Command: "c", Code: "UNKNOWN_COMMAND", Message: "Unknown server commandbogus"}},
		{"ERR UNKNOWN_JOB", AdminError{Command: "c", Code: "UNKNOWN_JOB"}},
		{"ERR function not found", AdminError{Command: "c", Message: "function not found"}},
		{"ERR CREATE_FUNCTION a%zz", AdminError{Command: "c", Code: "CREATE_FUNCTION", Message: "a%zz"}},
		{"ERR", AdminError{Command: "c"}},
	} {
		if got := adminParseErr("c", tc.line); *got != tc.want {
			t.Errorf("adminParseErr(%q) = %#v; want %#v", tc.line, *got, tc.want)
		}
	}
}

// adminFuzzConn takes what adminExchange writes and throws it away.
type adminFuzzConn struct{ net.Conn }

func (adminFuzzConn) Write(p []byte) (int, error) { return len(p), nil }

// FuzzAdminParse feeds replies to the reply reader and reply lines to the
// parsers, which must not panic and must keep what they are given.
func FuzzAdminParse(f *testing.F) {
	for _, s := range []string{
		"38 127.0.0.1 - : a.b c:d", "39 127.0.0.1  :", "fn\t1\t0\t0", "a\tb\t1\t2\t3\t4",
		"ERR UNKNOWN_COMMAND Unknown+server+command%zz", "ERR function not found", " : ", "1  :",
		"fn\t1\t0\t0\r\nf2\t0\t0\t1\n.\n", "OK 1.1.20\r\n", "ERR\tx\n.\n", "a\n\n.\r\nrest", "no end",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, multi := range []bool{false, true} {
			lines, errReply, ioErr := adminExchange(adminFuzzConn{}, bufio.NewReader(strings.NewReader(line)), "c", multi)
			switch {
			case ioErr != nil:
				if lines != nil || errReply != nil {
					t.Errorf("adminExchange(%q) gave lines or an ERR reply with its error %v", line, ioErr)
				}
			case errReply != nil:
				if errReply.Command != "c" || lines != nil || !strings.HasPrefix(line, "ERR") {
					t.Errorf("adminExchange(%q) = %q, %#v", line, lines, errReply)
				}
			default:
				if !multi && len(lines) != 1 {
					t.Errorf("one-line adminExchange(%q) = %q", line, lines)
				}
				for _, l := range lines {
					if strings.Contains(l, "\n") || !strings.Contains(line, l) || multi && l == "." {
						t.Errorf("adminExchange(%q, multi %v) gave line %q", line, multi, l)
					}
				}
			}
		}
		if w, ok := adminParseWorker(line); ok && (w.FD < -1 || w.Addr == "" || !strings.Contains(line, " "+w.Addr+" "+w.ClientID)) {
			t.Errorf("adminParseWorker(%q) = %+v", line, w)
		}
		if name, n, ok := adminSplitCounts(line, 3); ok && (len(n) != 3 || !strings.HasPrefix(line, name)) {
			t.Errorf("adminSplitCounts(%q) = %q, %v", line, name, n)
		}
		e := adminParseErr("c", line)
		if e.Command != "c" || e.Error() == "" {
			t.Errorf("adminParseErr(%q) = %#v", line, e)
		}
	})
}
