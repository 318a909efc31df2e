package cli

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/clustertest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// startLocalProc runs "glimpse-cluster local -n 1" as a process and
// returns it with the path of the config it printed.
func startLocalProc(t *testing.T, ctx context.Context) (*proc, string) {
	t.Helper()
	t.Setenv(config.EnvVar, "")
	p := startProc(t, "local", "-n", "1")
	out := p.stdout.Wait(t, ctx, "the whole printed config", func(s string) bool {
		_, rest, ok := strings.Cut(s, "log_backend_url = ")
		return ok && strings.Contains(rest, "\n")
	}, p.done)
	path := filepath.Join(t.TempDir(), "local.ini")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, path
}

// pingIDs runs glimpse-cluster ping and returns the worker ids it lists.
func pingIDs(t *testing.T, cfg string) ([]string, int) {
	t.Helper()
	code, stdout, _ := runCLI(t, "-c", cfg, "ping", "-t", "3s")
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n")[1:] {
		ids = append(ids, strings.Fields(line)[0])
	}
	return ids, code
}

// TestLocalCommandObeysQuit: quit sent to "glimpse-cluster local", by
// either channel, stops the whole local cluster, exit 0, as SIGTERM does,
// and quit reports that it was obeyed.
func TestLocalCommandObeysQuit(t *testing.T) {
	for _, via := range []string{"fanout", "zmq"} {
		t.Run(via, func(t *testing.T) {
			ctx := testenv.Context(t)
			p, cfg := startLocalProc(t, ctx)
			f, err := config.Load(cfg)
			if err != nil {
				t.Fatal(err)
			}
			gearmandPID := clustertest.AdminPID(t, ctx, f.Client.JobServers[0])

			code, stdout, stderr := runCLI(t, "-c", cfg, "quit", "-via", via)
			if code != exitOK || !strings.HasSuffix(strings.TrimSpace(stdout), ": quit") {
				t.Fatalf("quit -via %s: exit %d, want 0\n%s%s", via, code, stdout, stderr)
			}
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if code := p.wait(t, wctx); code != 0 {
				t.Fatalf("local exit %d after quit, want 0", code)
			}
			if !processGone(gearmandPID) {
				t.Errorf("gearmand (pid %d) still there after quit", gearmandPID)
			}
		})
	}
}

// TestLocalCommandObeysRestart: restart replaces the local worker (a new
// id answers ping, in the same process) and keeps the cluster; a second
// restart works too, and maps run on the new worker.
func TestLocalCommandObeysRestart(t *testing.T) {
	ctx := testenv.Context(t)
	p, cfg := startLocalProc(t, ctx)
	before, code := pingIDs(t, cfg)
	if code != exitOK || len(before) != 1 {
		t.Fatalf("ping before restart: exit %d, %v", code, before)
	}
	ids := before
	for range 2 {
		code, stdout, stderr := runCLI(t, "-c", cfg, "restart")
		if code != exitOK || !strings.Contains(stdout, ids[0]+": restart") {
			t.Fatalf("restart: exit %d, want 0\n%s%s", code, stdout, stderr)
		}
		old := ids[0]
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		testenv.Eventually(t, wctx, "a new worker answering ping", func() (bool, error) {
			ids, code = pingIDs(t, cfg)
			return code == exitOK && len(ids) == 1 && ids[0] != old, nil
		})
		if !strings.Contains(ids[0], "-"+strconv.Itoa(p.cmd.Process.Pid)+"-") {
			t.Errorf("new worker %s is not in the local process %d", ids[0], p.cmd.Process.Pid)
		}
	}
	f, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := pool.New(f.Client)
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	checkSquares(t, ctx, pl)
	select {
	case <-p.done:
		t.Fatalf("local exited after restart:\n%s", p.stderr)
	default:
	}
	p.signal(t, os.Interrupt)
	if code := p.wait(t, ctx); code != 0 {
		t.Fatalf("local exit %d after SIGINT, want 0", code)
	}
}

// TestStartLocalRefusesQuitAndRestart: the worker StartLocal runs inside
// a program refuses quit and restart, saying why; quit and restart exit
// 1; the worker goes on serving.
func TestStartLocalRefusesQuitAndRestart(t *testing.T) {
	ctx := testenv.Context(t)
	l, cfg := startLocal1(t, ctx)
	for _, cmd := range []string{"quit", "restart", "KillWorkers"} {
		for _, via := range []string{"fanout", "zmq"} {
			code, stdout, stderr := runCLI(t, "-c", cfg, cmd, "-via", via, "-t", "3s")
			name := findCommand(cmd).name
			want := l.Worker().ID() + ": " + name + " refused: this worker runs inside a program (cluster.StartLocal)"
			if code != exitFailure || stdout != "" || !strings.Contains(stderr, want) {
				t.Errorf("%s -via %s: exit %d, stdout %q, stderr %q; want 1 and %q", cmd, via, code, stdout, stderr, want)
			}
		}
	}
	ids, code := pingIDs(t, cfg)
	if code != exitOK || len(ids) != 1 || ids[0] != l.Worker().ID() {
		t.Fatalf("ping after the refused commands: exit %d, %v; want the same worker", code, ids)
	}
	checkSquares(t, ctx, l.Pool())
}

// TestQuitViaZMQAnsweredByIdleWorker: an idle worker process obeys quit
// -via zmq and its answer reaches quit before the worker closes its log
// channel (it used to be lost: quit saw no answer from a worker that
// quit).
func TestQuitViaZMQAnsweredByIdleWorker(t *testing.T) {
	ctx := testenv.Context(t)
	l, cfg := startLocal1(t, ctx)
	addr := l.Config().JobServers[0]
	for range 3 {
		w := startProc(t, "-c", cfg, "worker", "-n", "1")
		var id string
		testenv.Eventually(t, ctx, "the worker process registered", func() (bool, error) {
			for _, x := range listed(addr) {
				if x != l.Worker().ID() && strings.Contains(x, "-"+strconv.Itoa(w.cmd.Process.Pid)+"-") {
					id = x
					return true, nil
				}
			}
			return false, nil
		})
		// Its subscription to the command channel has reached the broker
		// once it answers a ping there.
		testenv.Eventually(t, ctx, "the worker answering a ping on the command channel", func() (bool, error) {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			replies, err := broadcastZMQ(pctx, l.Config(), pool.NewCommand(pool.CommandPing, 2*time.Second, id))
			return len(replies.replies) == 1, err
		})
		code, stdout, stderr := runCLI(t, "-c", cfg, "quit", "-via", "zmq", "-w", id, "-t", "3s")
		if code != exitOK || !strings.Contains(stdout, id+": quit") {
			t.Errorf("quit -via zmq -w %s: exit %d, want 0 and its answer\n%s%s", id, code, stdout, stderr)
		}
		if code := w.wait(t, ctx); code != 0 {
			t.Errorf("worker exit %d after quit, want 0", code)
		}
	}
}
