package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/clustertest"
	"github.com/glimpse-go/glimpse/internal/gearmand"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
	"github.com/glimpse-go/glimpse/webhook"
)

// TestWorkerProcessServesChunks runs "glimpse-cluster worker -n 2" and
// maps over it.
func TestWorkerProcessServesChunks(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	cfg := writeConfig(t, []string{srv.Addr()})
	p := startProc(t, "-c", cfg, "worker", "-n", "2")

	info := waitWorker(t, ctx, srv.Addr(), exampleGearmanNames...)
	workerID, ok := strings.CutPrefix(info.ClientID, "glimpse/2/")
	if m := clustertest.WorkerIDPattern.FindStringSubmatch(workerID); !ok || m == nil || m[1] != strconv.Itoa(p.cmd.Process.Pid) {
		t.Fatalf("client id %q, want glimpse/2/host-%d-random", info.ClientID, p.cmd.Process.Pid)
	}

	pl, err := pool.New(config.Client{JobServers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	if n, err := pl.WorkerSlots(ctx, "examples.square"); err != nil || n != 2 {
		t.Errorf("WorkerSlots = %d, %v; want 2", n, err)
	}
	checkSquares(t, ctx, pl)

	_, err = pool.Map(ctx, pl, failThree, []int{0, 1, 2, 3, 4}, pool.Chunksize(1))
	var te *pool.TaskError
	if !errors.As(err, &te) || te.Index != 3 || te.Worker != workerID || !strings.Contains(te.Message, errThree.Error()) {
		t.Fatalf("map of a failing item: %v, want a *pool.TaskError for item 3 from worker %s", err, workerID)
	}

	c := newClient(t, ctx, srv.Addr())
	_, err = c.Call(ctx, "glimpse.examples.square", []byte("not a chunk"))
	var ex *gearman.JobException
	if !errors.As(err, &ex) || ex.Function != "glimpse.examples.square" {
		t.Fatalf("malformed chunk: %v, want a *gearman.JobException", err)
	}
}

// TestWorkerProcessDrainsOnSIGTERM: the running chunk completes at the
// client, no new one is taken, and the process exits 0.
func TestWorkerProcessDrainsOnSIGTERM(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	cfg := writeConfig(t, []string{srv.Addr()})
	p := startProc(t, "-c", cfg, "worker", "-n", "2")
	waitWorker(t, ctx, srv.Addr(), "glimpse."+blockName)

	c := newClient(t, ctx, srv.Addr())
	first, err := c.Submit(ctx, "glimpse."+blockName, []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	p.stdout.WaitFor(t, ctx, "running one", p.done)

	p.signal(t, syscall.SIGTERM)
	p.stderr.WaitFor(t, ctx, "msg=draining running=1", p.done)
	// The worker has a free slot, but no longer takes jobs.
	second, err := c.Submit(ctx, "glimpse."+blockName, []byte("two"))
	if err != nil {
		t.Fatal(err)
	}
	p.release(t)
	if got, err := first.Wait(ctx); err != nil || string(got) != "done one" {
		t.Fatalf("running chunk: %q, %v; want it completed", got, err)
	}
	if code := p.wait(t, ctx); code != 0 {
		t.Fatalf("exit status %d after a drain, want 0", code)
	}
	if out := p.stdout.String(); strings.Contains(out, "running two") {
		t.Fatalf("the draining worker took a new job:\n%s", out)
	}
	select {
	case <-second.Done():
		r, err := second.Result()
		t.Fatalf("the job submitted during the drain ended: %q, %v", r, err)
	default:
	}
	if st := functionStatusOf(t, ctx, srv.Addr(), "glimpse."+blockName); st.Queued != 1 || st.Running != 0 {
		t.Errorf("after the drain: %+v, want the second job still queued", st)
	}
	if !strings.Contains(p.stderr.String(), `msg="worker stopped" requests=1 failures=0`) {
		t.Errorf("no final stats in the log:\n%s", p.stderr)
	}
}

// TestWorkerProcessSecondSignal: a second SIGTERM during a drain exits at
// once, non-zero, and the job server requeues the unfinished chunk.
func TestWorkerProcessSecondSignal(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	cfg := writeConfig(t, []string{srv.Addr()})
	p := startProc(t, "-c", cfg, "worker", "-n", "1")
	waitWorker(t, ctx, srv.Addr(), "glimpse."+blockName)

	c := newClient(t, ctx, srv.Addr())
	task, err := c.Submit(ctx, "glimpse."+blockName, []byte("stuck"))
	if err != nil {
		t.Fatal(err)
	}
	p.stdout.WaitFor(t, ctx, "running stuck", p.done)
	p.signal(t, syscall.SIGTERM)
	p.stderr.WaitFor(t, ctx, "msg=draining", p.done)
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, ctx); code != 1 {
		t.Fatalf("exit status %d after a second signal, want 1", code)
	}
	if !strings.Contains(p.stderr.String(), "second signal") {
		t.Errorf("no word of the second signal in the log:\n%s", p.stderr)
	}
	testenv.Eventually(t, ctx, "the job to be requeued", func() (bool, error) {
		st := functionStatusOf(t, ctx, srv.Addr(), "glimpse."+blockName)
		return st.Queued == 1 && st.Running == 0 && st.Workers == 0, nil
	})
	select {
	case <-task.Done():
		r, err := task.Result()
		t.Fatalf("the interrupted job ended at the client: %q, %v", r, err)
	default:
	}
}

// TestWorkerProcessStartsBeforeGearmand: the worker keeps dialling and
// serves once the job server comes up.
func TestWorkerProcessStartsBeforeGearmand(t *testing.T) {
	ctx := testenv.Context(t)
	port := testenv.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cfg := writeConfig(t, []string{addr})
	p := startProc(t, "-c", cfg, "worker", "-n", "1")
	p.stderr.WaitFor(t, ctx, `msg="gearman: cannot reach job server; retrying"`, p.done)

	srv, err := gearmand.Start(ctx, gearmand.Options{Port: port, LogFile: t.TempDir() + "/gearmand.log"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	waitWorker(t, ctx, addr, exampleGearmanNames...)
	c := newClient(t, ctx, addr)
	_, err = c.Call(ctx, "glimpse.examples.square", []byte("not a chunk"))
	var ex *gearman.JobException
	if !errors.As(err, &ex) {
		t.Fatalf("chunk after gearmand came up: %v, want the worker's *gearman.JobException", err)
	}
}

// TestWorkerCommandInProcess drives the worker command through run, with
// signals sent on a channel, so the race detector sees the whole path.
func TestWorkerCommandInProcess(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	cfg := writeConfig(t, []string{srv.Addr()}, "[worker]", "slots = 3", "log_level = debug")
	stdout, stderr := testenv.NewOutput(), testenv.NewOutput()
	sig := make(chan os.Signal, 2)
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"glimpse-cluster", "-c", cfg, "LaunchWorker", "-f", "examples.hex"}, stdout, stderr, sig)
	}()
	info := waitWorker(t, ctx, srv.Addr(), "glimpse.examples.hex")
	// -f names the user's functions; the built-in webhook one is served
	// too: each as chunks and as its durable tasks' jobs.
	want := []string{"glimpse-task.examples.hex", "glimpse-task." + webhook.Name, "glimpse.examples.hex", "glimpse." + webhook.Name}
	if !strings.HasPrefix(info.ClientID, "glimpse/3/") || !slices.Equal(slices.Sorted(slices.Values(info.Functions)), want) {
		t.Errorf("worker listed as %+v, want 3 slots serving %v", info, want)
	}
	sig <- syscall.SIGTERM
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit status %d, want 0; stderr:\n%s", c, stderr)
		}
	case <-ctx.Done():
		t.Fatal("worker did not stop")
	}
	if !strings.Contains(stderr.String(), "level=DEBUG") {
		t.Errorf("log_level = debug not applied:\n%s", stderr)
	}
}

func TestWorkerCommandErrors(t *testing.T) {
	cfg := writeConfig(t, []string{"127.0.0.1:4730"})
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-c", cfg, "worker", "-f", "examples.square,nope"},
			[]string{`glimpse-cluster worker: unknown function "nope": this binary registers clustertest.failthree, examples.countprimes, examples.hex, examples.identity, examples.lookup, examples.square`}},
		{[]string{"-c", cfg, "worker", "-n", "-1"}, []string{"-n -1"}},
		{[]string{"-c", cfg, "worker", "-n", "many"}, []string{`invalid value "many" for flag -n`, "worker -h"}},
		{[]string{"-c", cfg, "worker", "-f", "a,,b"}, []string{"empty function name"}},
		{[]string{"-c", cfg, "worker", "extra"}, []string{`unexpected argument "extra"`}},
	} {
		t.Run(strings.Join(tc.args[2:], " "), func(t *testing.T) {
			var stdout, stderr strings.Builder
			if code := run(context.Background(), append([]string{"glimpse-cluster"}, tc.args...), &stdout, &stderr, nil); code != exitUsage {
				t.Errorf("exit status %d, want %d", code, exitUsage)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q does not contain %q", stderr.String(), w)
				}
			}
		})
	}
}

// TestWorkerShutdownTimeout: a drain that outlasts shutdown_timeout
// closes the worker and exits 1.
func TestWorkerShutdownTimeout(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	cfg := writeConfig(t, []string{srv.Addr()}, "[worker]", "shutdown_timeout = 1ms")
	p := startProc(t, "-c", cfg, "worker", "-n", "1")
	waitWorker(t, ctx, srv.Addr(), "glimpse."+blockName)
	c := newClient(t, ctx, srv.Addr())
	if _, err := c.Submit(ctx, "glimpse."+blockName, []byte("slow")); err != nil {
		t.Fatal(err)
	}
	p.stdout.WaitFor(t, ctx, "running slow", p.done)
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, ctx); code != 1 {
		t.Fatalf("exit status %d, want 1", code)
	}
	if !strings.Contains(p.stderr.String(), "drain cut short") {
		t.Errorf("no word of the cut drain:\n%s", p.stderr)
	}
}

// TestWorkerWebhooks: a worker serves the built-in webhook function
// besides those that -f names, and not with [worker] webhooks = false; a
// webhook secret file that others may read stops the worker at start.
func TestWorkerWebhooks(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	hook := "glimpse." + webhook.Name
	startProc(t, "-c", writeConfig(t, []string{srv.Addr()}), "worker", "-n", "1", "-f", "examples.hex")
	if info := waitWorker(t, ctx, srv.Addr(), "glimpse.examples.hex", hook); slices.Contains(info.Functions, "glimpse.examples.square") {
		t.Errorf("-f examples.hex serves %v", info.Functions)
	}

	off := writeConfig(t, []string{srv.Addr()}, "[worker]", "webhooks = false")
	startProc(t, "-c", off, "worker", "-n", "1", "-f", "examples.square")
	if info := waitWorker(t, ctx, srv.Addr(), "glimpse.examples.square"); slices.Contains(info.Functions, hook) {
		t.Errorf("webhooks = false, yet the worker serves %v", info.Functions)
	}

	secretFile := filepath.Join(t.TempDir(), "webhook.secret")
	if err := os.WriteFile(secretFile, []byte("0123456789abcdef0123456789abcdef\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	open := writeConfig(t, []string{srv.Addr()}, "[http]", "webhook_secret_file = "+secretFile)
	var stdout, stderr strings.Builder
	if code := run(ctx, []string{"glimpse-cluster", "-c", open, "worker"}, &stdout, &stderr, nil); code != exitUsage ||
		!strings.Contains(stderr.String(), "webhook_secret_file") || !strings.Contains(stderr.String(), "mode 0644") {
		t.Errorf("a secret file of mode 0644: exit %d, stderr %q", code, stderr.String())
	}
}
