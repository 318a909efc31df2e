package cli

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// noBrokerConfig writes glimpse's config with no broker: each frontend URL
// equal to its backend, on free ports of host (loopback), and fast
// heartbeats; extra lines go in [client].
func noBrokerConfig(t *testing.T, jobServer, host string, extra ...string) (path, cmdURL, logURL string) {
	t.Helper()
	cmdURL = "tcp://" + host + ":" + strconv.Itoa(testenv.FreePort(t))
	logURL = "tcp://" + host + ":" + strconv.Itoa(testenv.FreePort(t))
	lines := append([]string{"command_frontend_url = " + cmdURL, "command_backend_url = " + cmdURL,
		"log_frontend_url = " + logURL, "log_backend_url = " + logURL}, extra...)
	path = writeConfig(t, []string{jobServer}, append(lines, "[worker]", "heartbeat_interval = 100ms")...)
	return path, cmdURL, logURL
}

// TestNoBroker: with no broker the client binds both channels and the
// worker processes connect to it. logs follows their heartbeats and
// records (and a second client is told the channel is taken); ping -via
// zmq, right after logs let go of the log channel, lists both workers;
// quit -via zmq makes both exit 0.
func TestNoBroker(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	cfg, _, logURL := noBrokerConfig(t, srv.Addr(), "127.0.0.1")
	var workers []*proc
	var pids []string
	for range 2 {
		w := startProc(t, "-c", cfg, "worker", "-n", "1")
		workers = append(workers, w)
		pids = append(pids, strconv.Itoa(w.cmd.Process.Pid))
	}

	// Bounded well under testenv.Context: on a channel nobody binds, nothing comes.
	lctx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	out := testenv.NewOutput()
	done := make(chan int, 1)
	go func() {
		done <- run(lctx, []string{"glimpse-cluster", "-c", cfg, "logs", "-heartbeats"}, out, out, nil)
	}()
	out.Wait(t, lctx, "a heartbeat of each worker", func(s string) bool {
		for _, pid := range pids {
			if !strings.Contains(s, "-"+pid+"-") || !strings.Contains(s, " heartbeat {") {
				return false
			}
		}
		return true
	}, nil)
	p, err := pool.New(config.Client{JobServers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := pool.Map(lctx, p, failThree, []int{1, 2, 3}); err == nil {
		t.Fatal("failthree did not fail")
	}
	out.WaitFor(t, lctx, "clustertest.failthree", nil)

	code, stdout, stderr := runCLI(t, "-c", cfg, "logs")
	want := "address in use: another client holds the log channel at " + logURL
	if code != exitFailure || stdout != "" || !strings.Contains(stderr, want) {
		t.Errorf("a second logs: exit status %d, stdout %q, stderr %q; want 1 and %q", code, stdout, stderr, want)
	}
	stop()
	if code := <-done; code != exitOK {
		t.Fatalf("logs exit %d:\n%s", code, out)
	}

	// Each run binds anew; the workers reconnect to each.
	for range 2 {
		code, stdout, stderr := runCLI(t, "-c", cfg, "ping", "-via", "zmq", "-t", "10s")
		if code != exitOK || !strings.Contains(stderr, "ping: answered by 2 workers") {
			t.Fatalf("ping -via zmq: exit status %d:\n%s%s", code, stdout, stderr)
		}
		for _, pid := range pids {
			if !strings.Contains(stdout, " "+pid+" ") {
				t.Errorf("worker pid %s is not in the ping table:\n%s", pid, stdout)
			}
		}
	}

	code, stdout, stderr = runCLI(t, "-c", cfg, "quit", "-via", "zmq", "-t", "10s")
	if code != exitOK || strings.Count(stdout, ": quit") != 2 {
		t.Fatalf("quit -via zmq: exit status %d:\n%s%s", code, stdout, stderr)
	}
	for i, w := range workers {
		if code := w.wait(t, ctx); code != 0 {
			t.Errorf("worker %d exit %d after quit, want 0", i+1, code)
		}
	}
}

// TestNoBrokerErrors: with no broker, the broker command refuses to run,
// and a ping that no worker hears says where it listened. A host name,
// which ZeroMQ cannot bind, binds its port on every interface, so that
// ping gets as far as waiting for workers too.
func TestNoBrokerErrors(t *testing.T) {
	cfg, cmdURL, _ := noBrokerConfig(t, "127.0.0.1:4730", "127.0.0.1")
	code, stdout, stderr := runCLI(t, "-c", cfg, "broker")
	if code != exitUsage || stdout != "" || !strings.Contains(stderr, "[client] command_frontend_url: equals command_backend_url") ||
		!strings.Contains(stderr, "nothing to forward") {
		t.Errorf("broker: exit status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	named, namedURL, _ := noBrokerConfig(t, "127.0.0.1:4730", "localhost")
	for _, c := range []struct{ path, url string }{{cfg, cmdURL}, {named, namedURL}} {
		var out, errOut bytes.Buffer
		code = run(testenv.Context(t), []string{"glimpse-cluster", "-c", c.path, "ping", "-via", "zmq", "-t", "1s"}, &out, &errOut, nil)
		want := "no worker listens on the command channel " + c.url + " (no broker: this client bound it"
		if code != exitFailure || !strings.Contains(errOut.String(), want) {
			t.Errorf("ping with no worker: exit status %d, stderr %q; want 1 and %q", code, errOut.String(), want)
		}
	}
}

// TestNoBrokerLateJoiner: a client with no broker has just bound when it
// sends, and workers connect one by one; a publisher drops what it sent
// before a subscriber joined. A worker whose command socket joins after
// the first send still gets the command. The two command sockets are the
// workers' own kind (broker.NewSubscriber on command_backend_url, topic
// "cmd"), so that the test decides when the second one joins.
func TestNoBrokerLateJoiner(t *testing.T) {
	ctx := testenv.Context(t)
	_, cmdURL, logURL := noBrokerConfig(t, "127.0.0.1:4730", "127.0.0.1")
	cfg := config.Client{JobServers: []string{"127.0.0.1:4730"},
		CommandFrontendURL: cmdURL, CommandBackendURL: cmdURL, LogFrontendURL: logURL, LogBackendURL: logURL}
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := pool.NewCommand(pool.CommandPing, time.Minute)
	type result struct {
		replies []pool.Reply
		err     error
	}
	done := make(chan result, 1)
	go func() {
		r, err := broadcastZMQ(bctx, cfg, cmd)
		done <- result{r.replies, err}
	}()
	for i := range 2 {
		w, err := broker.NewSubscriber(cmdURL, wire.TopicCommand)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		_, parts, err := w.Recv(rctx)
		rcancel()
		if err != nil || len(parts) != 1 || !strings.Contains(string(parts[0]), cmd.ID) {
			t.Fatalf("worker %d: got %q, %v; want the ping %s", i+1, parts, err, cmd.ID)
		}
	}
	cancel() // nobody answers: the client waits for its context
	if r := <-done; r.err != nil || len(r.replies) != 0 {
		t.Errorf("broadcastZMQ = %v, %v; want no replies and no error", r.replies, r.err)
	}
}

// A client with no broker binds what it can: IPs and ipc paths as written,
// localhost on loopback only, any other host name on every interface.
func TestBindURL(t *testing.T) {
	for in, want := range map[string]string{
		"tcp://127.0.0.1:9000":  "tcp://127.0.0.1:9000",
		"tcp://[::1]:9000":      "tcp://[::1]:9000",
		"tcp://localhost:9000":  "tcp://127.0.0.1:9000",
		"tcp://LocalHost:9000":  "tcp://127.0.0.1:9000",
		"tcp://gear1.lan:9000":  "tcp://*:9000",
		"ipc:///tmp/glimpse.sk": "ipc:///tmp/glimpse.sk",
	} {
		if got := bindURL(in); got != want {
			t.Errorf("bindURL(%q) = %q, want %q", in, got, want)
		}
	}
}
