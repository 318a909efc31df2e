package cli

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/clustertest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// startFanoutAndWorkers starts a fanout worker process and n worker
// processes, and waits until all of them answer a ping.
func startFanoutAndWorkers(t *testing.T, n int) (cfg string, addr string, workers []*proc) {
	t.Helper()
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	addr = srv.Addr()
	cfg = writeConfig(t, []string{addr}, "[fanout]", "store = "+filepath.Join(t.TempDir(), "fanout.db"))
	startProc(t, "-c", cfg, "fanout")
	for range n {
		workers = append(workers, startProc(t, "-c", cfg, "worker", "-n", "1"))
	}
	p, err := pool.New(config.Client{JobServers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	testenv.Eventually(t, ctx, fmt.Sprintf("%d workers answering ping", n), func() (bool, error) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		stats, err := p.Ping(pctx)
		return len(stats) == n, err
	})
	return cfg, addr, workers
}

func TestTwentyWorkerProcessesAnswerPing(t *testing.T) {
	cfg, _, workers := startFanoutAndWorkers(t, 20)
	var stdout, stderr bytes.Buffer
	if code := run(testenv.Context(t), []string{"glimpse-cluster", "-c", cfg, "ping", "-t", "10s"}, &stdout, &stderr, nil); code != exitOK {
		t.Fatalf("ping exit %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 21 || !strings.HasPrefix(lines[0], "WORKER") || !strings.Contains(lines[0], "MEAN_ETIME") {
		t.Fatalf("ping printed:\n%s", stdout.String())
	}
	for _, w := range workers {
		if pid := strconv.Itoa(w.cmd.Process.Pid); !strings.Contains(stdout.String(), " "+pid+" ") {
			t.Errorf("worker pid %s is not in the ping table", pid)
		}
	}
	if !strings.Contains(stderr.String(), "ping: answered by 20 workers") {
		t.Errorf("stderr: %s", stderr.String())
	}
}

func TestQuitDrainsWorkerMidChunk(t *testing.T) {
	ctx := testenv.Context(t)
	cfg, addr, workers := startFanoutAndWorkers(t, 1)
	w := workers[0]
	c := newClient(t, ctx, addr)
	task, err := c.Submit(ctx, "glimpse."+blockName, []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	w.stdout.WaitFor(t, ctx, "running one", w.done)

	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"glimpse-cluster", "-c", cfg, "KillWorkers"}, &stdout, &stderr, nil); code != exitOK {
		t.Fatalf("quit exit %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), ": quit") {
		t.Fatalf("quit printed %q", stdout.String())
	}
	w.stderr.WaitFor(t, ctx, "msg=draining running=1", w.done)
	w.release(t)
	if got, err := task.Wait(ctx); err != nil || string(got) != "done one" {
		t.Fatalf("the chunk the worker held: %q, %v; want it completed", got, err)
	}
	if code := w.wait(t, ctx); code != 0 {
		t.Fatalf("worker exit %d after quit, want 0", code)
	}
}

func TestRestartReexecutesWorker(t *testing.T) {
	ctx := testenv.Context(t)
	cfg, addr, workers := startFanoutAndWorkers(t, 1)
	p, err := pool.New(config.Client{JobServers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	before, err := p.Ping(ctx)
	if err != nil || len(before) != 1 {
		t.Fatalf("ping before: %+v, %v", before, err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"glimpse-cluster", "-c", cfg, "RestartWorkers"}, &stdout, &stderr, nil); code != exitOK {
		t.Fatalf("restart exit %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	workers[0].stderr.WaitFor(t, ctx, "msg=restarting", workers[0].done)
	testenv.Eventually(t, ctx, "the restarted worker answering ping", func() (bool, error) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		after, err := p.Ping(pctx)
		// Same process (exec keeps the pid), new worker id.
		return len(after) == 1 && after[0].PID == before[0].PID && after[0].WorkerID != before[0].WorkerID, err
	})
}

func TestPingViaZMQWhileGearmandIsDown(t *testing.T) {
	ctx := testenv.Context(t)
	l, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := writeLocalConfig(t, l.Config())
	clustertest.KillJobServer(t, ctx, l.Config().JobServers[0])
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"glimpse-cluster", "-c", cfg, "PingWorkers", "-via", "zmq"}, &stdout, &stderr, nil); code != exitOK {
		t.Fatalf("ping -via zmq exit %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), l.Worker().ID()) || !strings.Contains(stderr.String(), "answered by 1 workers") {
		t.Fatalf("ping -via zmq printed:\n%s%s", stdout.String(), stderr.String())
	}
}

func TestLogsFollowsRecordsAndHeartbeats(t *testing.T) {
	ctx := testenv.Context(t)
	wc := config.DefaultWorker()
	wc.HeartbeatInterval = 20 * time.Millisecond
	var workerLog bytes.Buffer
	l, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{Worker: withSlots(wc, 1), Log: &workerLog})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := writeLocalConfig(t, l.Config())
	out := testenv.NewOutput()
	lctx, stop := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() {
		done <- run(lctx, []string{"glimpse-cluster", "-c", cfg, "logs", "-heartbeats", "-l", "warn", "-w", "*"}, out, out, nil)
	}()
	out.WaitFor(t, ctx, l.Worker().ID()+" heartbeat {", nil)
	// A failing chunk makes the worker log a warning or an error.
	if _, err := pool.Map(ctx, l.Pool(), failThree, []int{1, 2, 3}); err == nil {
		t.Fatal("failthree did not fail")
	}
	out.WaitFor(t, ctx, "clustertest.failthree", nil)
	stop()
	if code := <-done; code != exitOK {
		t.Fatalf("logs exit %d", code)
	}
	if strings.Contains(out.String(), " INFO ") {
		t.Errorf("-l warn printed INFO records:\n%s", out)
	}
}

// writeLocalConfig writes a config file for a local cluster's Config.
func writeLocalConfig(t *testing.T, c config.Client, extra ...string) string {
	t.Helper()
	return writeConfig(t, c.JobServers, append([]string{
		"command_frontend_url = " + c.CommandFrontendURL,
		"command_backend_url = " + c.CommandBackendURL,
		"log_frontend_url = " + c.LogFrontendURL,
		"log_backend_url = " + c.LogBackendURL}, extra...)...)
}

// startLocal1 starts a local cluster with one worker slot for the test,
// closed when it ends, and returns it with a config file naming it.
func startLocal1(t *testing.T, ctx context.Context) (*cluster.Local, string) {
	t.Helper()
	l, err := cluster.StartLocal(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, writeLocalConfig(t, l.Config())
}
