package cli

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// newKeyFile writes a fresh cluster key, mode 0600, and returns it and
// its path.
func newKeyFile(t *testing.T) (*auth.Key, string) { return testenv.KeyFile(t) }

// private makes a config file that names a key private, as Load asks.
func private(t *testing.T, path string) string {
	t.Helper()
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// outsiders are peers without the cluster's key: plain ZeroMQ, and CURVE
// with a key of another cluster.
func outsiders(t *testing.T) []broker.Peers {
	other, _ := newKeyFile(t)
	return []broker.Peers{{}, {Key: other}}
}

// spy subscribes to everything at url, as each outsider, and returns
// what they received once stop is called.
func spy(t *testing.T, ctx context.Context, url string) (stop func() []string) {
	t.Helper()
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got []string
	)
	sctx, cancel := context.WithCancel(ctx)
	for _, peers := range outsiders(t) {
		sub, err := peers.NewSubscriber(url, "")
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer sub.Close()
			for {
				topic, _, err := sub.Recv(sctx)
				if err != nil {
					return
				}
				mu.Lock()
				got = append(got, topic)
				mu.Unlock()
			}
		})
	}
	return func() []string {
		cancel()
		wg.Wait()
		return got
	}
}

// forge publishes at url, as each outsider, every 20ms until stop: a log
// record and a heartbeat of a phantom worker, and for every command an
// outsider overhears on cmdBackend, a phantom worker's reply to it.
func forge(t *testing.T, ctx context.Context, url, cmdBackend string) (stop func()) {
	t.Helper()
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, peers := range outsiders(t) {
		pub, err := peers.NewPublisher(url)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := peers.NewSubscriber(cmdBackend, wire.TopicCommand)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer pub.Close()
			defer sub.Close()
			for sctx.Err() == nil {
				pub.Send(wire.TopicLog+"phantom", []byte(`{"time":"T","level":"ERROR","msg":"FORGED record"}`))
				pub.Send(wire.TopicHeartbeat+"phantom", []byte(`{"host":"FORGED"}`))
				rctx, rcancel := context.WithTimeout(sctx, 20*time.Millisecond)
				_, parts, err := sub.Recv(rctx)
				rcancel()
				var cmd pool.Command
				if err == nil && len(parts) == 1 && json.Unmarshal(parts[0], &cmd) == nil {
					reply, _ := json.Marshal(pool.Reply{Command: cmd.ID, Name: cmd.Name, Worker: "phantom-worker",
						Stats: &pool.WorkerStats{Host: "phantom-host", PID: 4242, WorkerID: "phantom-worker"}})
					pub.Send(wire.TopicReply+cmd.ID, reply)
				}
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// TestKeyedChannelsRefuseOutsiders runs a local cluster with a key: peers
// without it read nothing on either backend (no log, heartbeat, command
// or reply) and publish nothing: their forged records and heartbeats do
// not reach "glimpse-cluster logs", and their replies to the commands
// they would overhear do not list phantom workers in "ping -via zmq",
// while the key holders' logs and pings work.
func TestKeyedChannelsRefuseOutsiders(t *testing.T) {
	ctx := testenv.Context(t)
	wc := config.DefaultWorker()
	wc.HeartbeatInterval = 20 * time.Millisecond
	l, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{Worker: withSlots(wc, 1), Log: io.Discard, GenerateKey: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lc := l.Config()
	cfg := private(t, writeLocalConfig(t, lc, "key_file = "+lc.KeyFile))
	stopSpies := spy(t, ctx, lc.LogBackendURL)
	stopCmdSpies := spy(t, ctx, lc.CommandBackendURL)
	stopForgers := forge(t, ctx, lc.LogFrontendURL, lc.CommandBackendURL)
	stopCmdForgers := forge(t, ctx, lc.CommandFrontendURL, lc.CommandBackendURL)

	out := testenv.NewOutput()
	lctx, stop := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() {
		done <- run(lctx, []string{"glimpse-cluster", "-c", cfg, "logs", "-heartbeats"}, out, out, nil)
	}()
	out.WaitFor(t, ctx, l.Worker().ID()+" heartbeat {", nil)
	// A key holder's record that is not sealed (a CURVE peer with the
	// key, misbehaving) is dropped too, with a warning.
	key, err := auth.LoadKey(lc.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	holder, err := broker.Peers{Key: key}.NewPublisher(lc.LogFrontendURL)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	unsealed := make(chan struct{})
	go resendUntil(unsealed, holder, wire.TopicLog+"holder", []byte(`{"time":"T","level":"ERROR","msg":"UNSEALED record"}`))
	out.WaitFor(t, ctx, "not sealed with this cluster's key", nil)
	close(unsealed)
	if _, err := pool.Map(ctx, l.Pool(), failThree, []int{1, 2, 3}); err == nil {
		t.Fatal("failthree did not fail")
	}
	out.WaitFor(t, ctx, "clustertest.failthree", nil)

	code, stdout, stderr := runCLI(t, "-c", cfg, "ping", "-via", "zmq", "-t", "5s")
	if code != exitOK || !strings.Contains(stdout, l.Worker().ID()) || strings.Contains(stdout+stderr, "phantom") {
		t.Errorf("ping -via zmq: exit status %d, want 0 and only the real worker:\n%s%s", code, stdout, stderr)
	}
	stopForgers()
	stopCmdForgers()
	stop()
	if code := <-done; code != exitOK {
		t.Fatalf("logs exit %d", code)
	}
	if strings.Contains(out.String(), "FORGED") || strings.Contains(out.String(), "phantom") || strings.Contains(out.String(), "UNSEALED") {
		t.Errorf("logs printed an outsider's forgery:\n%s", out)
	}
	for i, got := range [][]string{stopSpies(), stopCmdSpies()} {
		if len(got) > 0 {
			t.Errorf("outsiders on backend %d read %d messages, want none; topics: %q", i, len(got), got[:min(len(got), 5)])
		}
	}
}

// TestKeyedNoBroker: with a key and no broker, the client's bound
// channels admit only the key holders: real worker processes log and
// answer ping -via zmq, while outsiders' forged records never print.
func TestKeyedNoBroker(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	_, keyFile := newKeyFile(t)
	cfg, cmdURL, logURL := noBrokerConfig(t, srv.Addr(), "127.0.0.1", "key_file = "+keyFile)
	private(t, cfg)
	w := startProc(t, "-c", cfg, "worker", "-n", "1")
	pid := w.cmd.Process.Pid

	lctx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	out := testenv.NewOutput()
	done := make(chan int, 1)
	go func() {
		done <- run(lctx, []string{"glimpse-cluster", "-c", cfg, "logs", "-heartbeats"}, out, out, nil)
	}()
	stopForgers := forge(t, ctx, logURL, cmdURL)
	out.Wait(t, lctx, "the worker's heartbeat", func(s string) bool {
		return strings.Contains(s, "-"+itoa(pid)+"-") && strings.Contains(s, " heartbeat {")
	}, nil)
	time.Sleep(300 * time.Millisecond) // the forgers keep trying
	stopForgers()
	stop()
	if code := <-done; code != exitOK {
		t.Fatalf("logs exit %d:\n%s", code, out)
	}
	if strings.Contains(out.String(), "FORGED") {
		t.Errorf("logs printed an outsider's forgery:\n%s", out)
	}

	stopForgers = forge(t, ctx, logURL, cmdURL)
	code, stdout, stderr := runCLI(t, "-c", cfg, "ping", "-via", "zmq", "-t", "10s")
	stopForgers()
	if code != exitOK || !strings.Contains(stdout, " "+itoa(pid)+" ") || strings.Contains(stdout, "phantom") {
		t.Fatalf("ping -via zmq: exit status %d, want 0 and only pid %d:\n%s%s", code, pid, stdout, stderr)
	}
}

// TestKeyedBrokerProcess runs "glimpse-cluster broker" with a key_file
// and zmq_max_message_size: it says it has a key, forwards the key
// holders' messages up to the limit and drops larger ones, and an
// outsider's subscriber reads nothing while a real keyed worker process
// heartbeats through it. A 64 MB command leaves the broker's and the
// worker's peak memory far below 64 MB.
func TestKeyedBrokerProcess(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	key, keyFile := newKeyFile(t)
	ports := []int{testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)}
	path, cc := brokerConfig(t, ports...)
	// brokerConfig's job server is a placeholder; the worker needs ours.
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text = []byte(strings.Replace(string(text), "job_server_url = 127.0.0.1:4730",
		"job_server_url = "+srv.Addr()+"\nkey_file = "+keyFile+"\nzmq_max_message_size = 65536", 1) + "[worker]\nheartbeat_interval = 50ms\n")
	if err := os.WriteFile(private(t, path), text, 0o600); err != nil {
		t.Fatal(err)
	}
	b := startProc(t, "-c", path, "broker")
	b.stderr.WaitFor(t, ctx, "broker serving", b.done)
	if s := b.stderr.String(); !strings.Contains(s, "cluster key loaded") || strings.Contains(s, "no cluster key") {
		t.Errorf("the broker does not say it has a key:\n%s", s)
	}
	stopSpies := spy(t, ctx, cc.LogBackendURL)
	w := startProc(t, "-c", path, "worker", "-n", "1")
	keyed := broker.Peers{Key: key}
	sub, err := keyed.NewSubscriber(cc.LogBackendURL, wire.TopicHeartbeat, "big")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	topic, parts, err := sub.Recv(rctx)
	if err != nil || len(parts) != 1 {
		t.Fatalf("no heartbeat from the keyed worker %d: %v", w.cmd.Process.Pid, err)
	}
	if _, err := key.Open(auth.PurposeLog, parts[0], []byte(topic)); err != nil {
		t.Errorf("the heartbeat on %s is not sealed with the key: %v", topic, err)
	}
	if got := stopSpies(); len(got) > 0 {
		t.Errorf("an outsider read %d messages on the log backend, want none; topics %q", len(got), got[:min(len(got), 5)])
	}

	pub, err := keyed.NewPublisher(cc.LogFrontendURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.WaitSubscribed(rctx, "big"); err != nil {
		t.Fatal(err)
	}
	pub.Send("big", make([]byte, 100<<10)) // over zmq_max_message_size: dropped
	for {
		pub.Send("big", []byte("small"))
		topic, parts, err := sub.Recv(rctx)
		if err != nil {
			t.Fatalf("the small message never came through: %v", err)
		}
		if topic == "big" {
			if len(parts) != 1 || len(parts[0]) != len("small") {
				t.Fatalf("the broker forwarded a %d-byte message over zmq_max_message_size", len(parts[0]))
			}
			break
		}
	}
	hugeCommand(t, rctx, keyed, cc, b.cmd.Process.Pid, w.cmd.Process.Pid)
}

// hugeCommand publishes a 64 MB message on the command channel, where the
// worker listens, then a small one until the small one is through (the
// broker dropped the publisher's connection for the big one): the
// broker's and the worker's peak RSS must stay far below 64 MB.
func hugeCommand(t *testing.T, ctx context.Context, peers broker.Peers, cc config.Client, pids ...int) {
	t.Helper()
	const huge = 64 << 20
	sub, err := peers.NewSubscriber(cc.CommandBackendURL, wire.TopicCommand)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	pub, err := peers.NewPublisher(cc.CommandFrontendURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.WaitSubscribed(ctx, wire.TopicCommand); err != nil {
		t.Fatal(err)
	}
	before := make([]int64, len(pids))
	for i, pid := range pids {
		before[i] = testenv.PeakRSS(t, pid)
	}
	pub.Send(wire.TopicCommand, make([]byte, huge))
	for {
		pub.Send(wire.TopicCommand, []byte("{}"))
		rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_, parts, err := sub.Recv(rctx)
		cancel()
		if err == nil && len(parts) == 1 && len(parts[0]) == huge {
			t.Fatal("the broker forwarded the 64 MB command")
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("no small command went through after the 64 MB one")
		}
	}
	for i, pid := range pids {
		grew := testenv.PeakRSS(t, pid) - before[i]
		if grew > huge/2 {
			t.Errorf("pid %d's peak RSS grew by %d MB with a 64 MB command, want far less", pid, grew>>20)
		}
		t.Logf("pid %d: peak RSS %d MB, grew %d MB", pid, (before[i]+grew)>>20, grew>>20)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
