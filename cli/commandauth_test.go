package cli

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// startKeyedLocal starts a local cluster with a fresh cluster key and n
// worker processes that use it, and returns the cluster, a config file
// with the key (mode 0600), the key, the processes and their worker ids.
func startKeyedLocal(t *testing.T, ctx context.Context, n int) (*cluster.Local, string, *auth.Key, []*proc, []string) {
	t.Helper()
	// The in-process worker serves one function, so that the others run
	// on the worker processes.
	wc := withSlots(config.DefaultWorker(), 1)
	wc.Functions = []string{"examples.square"}
	l, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{Worker: wc, GenerateKey: true, Log: testWriter{T: t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	key, err := auth.LoadKey(l.Config().KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeKeyedConfig(t, l.Config())
	var procs []*proc
	for range n {
		procs = append(procs, startProc(t, "-c", cfg, "worker", "-n", "1"))
	}
	ids := make([]string, n)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	testenv.Eventually(t, sctx, "the worker processes answering a signed ping", func() (bool, error) {
		for _, p := range procs {
			alive(t, p, "it started")
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		stats, err := l.Pool().Ping(pctx)
		for i, p := range procs {
			for _, s := range stats {
				if s.PID == p.cmd.Process.Pid {
					ids[i] = s.WorkerID
				}
			}
		}
		return !slices.Contains(ids, ""), err
	})
	return l, cfg, key, procs, ids
}

// writeKeyedConfig writes a config file for a local cluster's Config with
// its key_file, private as a config naming a key must be.
func writeKeyedConfig(t *testing.T, c config.Client) string {
	t.Helper()
	path := writeLocalConfig(t, c)
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text = append(text, []byte("key_file = "+c.KeyFile+"\n")...)
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, text, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// rejectedBy returns worker id's RejectedCommands from a signed ping.
func rejectedBy(t *testing.T, ctx context.Context, p *pool.Pool, id string) int64 {
	t.Helper()
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	stats, err := p.Ping(pctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stats {
		if s.WorkerID == id {
			return s.RejectedCommands
		}
	}
	t.Fatalf("worker %s did not answer a signed ping: %+v", id, stats)
	return 0
}

// waitRejected waits (10s at most) until worker id has refused n commands.
func waitRejected(t *testing.T, ctx context.Context, p *pool.Pool, id string, n int64) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	testenv.Eventually(t, wctx, "worker "+id+" refusing "+strconv.FormatInt(n, 10)+" commands", func() (bool, error) {
		return rejectedBy(t, ctx, p, id) >= n, nil
	})
}

// gearmanCLI runs the C gearman client against the job server at addr
// and returns its output.
func gearmanCLI(t *testing.T, ctx context.Context, addr string, args ...string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, "gearman", append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	if err != nil && cctx.Err() != nil {
		t.Fatalf("gearman %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// plainQuit is an unsigned quit, as anyone could write it.
func plainQuit() []byte {
	data, _ := json.Marshal(pool.NewCommand(pool.CommandQuit, time.Minute))
	return data
}

// alive fails the test if the worker process has exited.
func alive(t *testing.T, w *proc, after string) {
	t.Helper()
	select {
	case <-w.done:
		t.Fatalf("the worker exited (%d) after %s", w.cmd.ProcessState.ExitCode(), after)
	default:
	}
}

// TestForgedCommandsRefused: against a keyed cluster, an unsigned quit
// submitted with the C gearman client to a worker's command queue, or
// published on the command channel by a peer past CURVE, is refused: the
// worker keeps running, counts each, and logs a WARN naming the path. One
// sent to the fanout is refused by the keyed fanout worker before any
// copy. A client without the key is told why; one with it is obeyed.
func TestForgedCommandsRefused(t *testing.T) {
	ctx := testenv.Context(t)
	l, cfg, key, procs, ids := startKeyedLocal(t, ctx, 1)
	w, id := procs[0], ids[0]
	addr := l.Config().JobServers[0]

	gearmanCLI(t, ctx, addr, "-b", "-f", wire.CommandTopic+"_"+id, string(plainQuit()))
	waitRejected(t, ctx, l.Pool(), id, 1)
	alive(t, w, "a forged quit on its command queue")

	fan, _ := json.Marshal(map[string]any{"topic": wire.CommandTopic, "payload": json.RawMessage(plainQuit())})
	// The keyed fanout worker refuses the unsealed request itself, so
	// the forgery is not even copied to the workers.
	gearmanCLI(t, ctx, addr, "-b", "-f", "fanout", string(fan))
	testenv.Eventually(t, ctx, "the fanout worker taking the forged fanout", func() (bool, error) {
		st := functionStatusOf(t, ctx, addr, "fanout")
		return st.Queued == 0 && st.Running == 0, nil
	})
	alive(t, w, "a forged quit through the fanout")

	// An outsider's ZeroMQ quit never gets past CURVE (see
	// TestKeyedChannelsRefuseOutsiders); one from a process that holds
	// the channel keys but does not seal it is refused by the worker.
	pub, err := broker.Peers{Key: key}.NewPublisher(l.Config().CommandFrontendURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.WaitSubscribed(ctx, wire.TopicCommand); err != nil {
		t.Fatal(err)
	}
	if err := pub.Send(wire.TopicCommand, plainQuit()); err != nil {
		t.Fatal(err)
	}
	waitRejected(t, ctx, l.Pool(), id, 2)
	alive(t, w, "a forged quit on the command channel")
	log := w.stderr.String()
	for _, want := range []string{"fanout queue " + wire.CommandTopic + "_" + id, "source=\"job H:", "path=\"command channel\""} {
		if !strings.Contains(log, want) {
			t.Errorf("the worker's log has no WARN with %q:\n%s", want, log)
		}
	}

	// A client without the key is refused, and told why.
	code, stdout, stderr := runCLI(t, "-c", writeLocalConfig(t, l.Config()), "quit", "-w", id, "-t", "5s")
	if code != exitFailure || !strings.Contains(stderr, id+": ") || !strings.Contains(stderr, "not signed") {
		t.Errorf("quit without the key: exit %d, want 1 saying the command was not signed\n%s%s", code, stdout, stderr)
	}
	alive(t, w, "a keyless client's quit")
	// With the key, quit is obeyed.
	code, stdout, stderr = runCLI(t, "-c", cfg, "quit", "-w", id, "-t", "5s")
	if code != exitOK || !strings.Contains(stdout, id+": quit") {
		t.Errorf("signed quit: exit %d, want 0\n%s%s", code, stdout, stderr)
	}
	if code := w.wait(t, ctx); code != 0 {
		t.Errorf("worker exit %d after a signed quit, want 0", code)
	}
}

// sealCmd seals cmd with k, as a key holder's client would.
func sealCmd(t *testing.T, k *auth.Key, cmd pool.Command) []byte {
	t.Helper()
	data, _ := json.Marshal(cmd)
	out, err := k.SealJSON(auth.PurposeCommand, data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReplayedAndTamperedCommandsRefused: commands sealed with the
// cluster's own key are refused when replayed after their expiry, altered,
// or claiming to live longer than pool.MaxCommandTTL; a signed ping
// replayed while valid is answered again and not counted as an attack.
func TestReplayedAndTamperedCommandsRefused(t *testing.T) {
	ctx := testenv.Context(t)
	l, _, key, procs, ids := startKeyedLocal(t, ctx, 1)
	w, id := procs[0], ids[0]
	addr := l.Config().JobServers[0]
	queue := wire.CommandTopic + "_" + id

	ping := sealCmd(t, key, pool.NewCommand(pool.CommandPing, time.Minute, id))
	for range 2 {
		out := gearmanCLI(t, ctx, addr, "-f", queue, string(ping))
		body, err := key.OpenJSON(auth.PurposeReply, []byte(strings.TrimSpace(out)))
		if err != nil || !strings.Contains(string(body), `"worker":"`+id+`"`) {
			t.Fatalf("a signed ping by the C client: %q (%v); want a signed reply from %s", out, err, id)
		}
	}
	if n := rejectedBy(t, ctx, l.Pool(), id); n != 0 {
		t.Fatalf("rejected %d after a signed ping sent twice, want 0", n)
	}

	expiring := sealCmd(t, key, pool.NewCommand(pool.CommandQuit, time.Second, id))
	time.Sleep(1500 * time.Millisecond)
	gearmanCLI(t, ctx, addr, "-b", "-f", queue, string(expiring))
	waitRejected(t, ctx, l.Pool(), id, 1)

	var env struct { // auth's envelope, in its order
		Sealed string `json:"glimpse_sealed"`
		Key    string `json:"key"`
		Body   []byte `json:"body"`
		MAC    []byte `json:"mac"`
	}
	if err := json.Unmarshal(ping, &env); err != nil {
		t.Fatal(err)
	}
	env.Body, _ = json.Marshal(pool.NewCommand(pool.CommandQuit, time.Minute, id)) // the ping's MAC on a quit
	tampered, _ := json.Marshal(env)
	gearmanCLI(t, ctx, addr, "-b", "-f", queue, string(tampered))
	waitRejected(t, ctx, l.Pool(), id, 2)

	long := pool.NewCommand(pool.CommandQuit, time.Minute, id)
	long.Expires = long.Sent.Add(48 * time.Hour)
	gearmanCLI(t, ctx, addr, "-b", "-f", queue, string(sealCmd(t, key, long)))
	waitRejected(t, ctx, l.Pool(), id, 3)
	alive(t, w, "an expired, a tampered and a too long-lived quit")
	if n := rejectedBy(t, ctx, l.Pool(), id); n != 3 {
		t.Errorf("rejected %d, want 3", n)
	}
}

// commandOf reads the command in a message of the command channel or a
// fanout payload, sealed or not, as an eavesdropper can.
func commandOf(data []byte) pool.Command {
	var env struct {
		Body []byte `json:"body"`
	}
	if json.Unmarshal(data, &env) == nil && len(env.Body) > 0 {
		data = env.Body
	}
	var cmd pool.Command
	json.Unmarshal(data, &cmd)
	return cmd
}

// phantom is the worker id the forged replies claim.
const phantom = "phantom-1-deadbeef"

// forgedReply is a reply to cmd that worker id never sent.
func forgedReply(cmd pool.Command, id string) pool.Reply {
	return pool.Reply{Command: cmd.ID, Name: cmd.Name, Worker: id,
		Stats: &pool.WorkerStats{WorkerID: id, Host: "phantom", PID: 1, Start: time.Now(), Time: time.Now()}}
}

// forgeReplies reads each command on the command channel's backend and
// answers it on the log channel's frontend as the phantom worker, once
// unsigned and once signed with another key, until ctx ends. Its sockets
// live and die in its goroutine.
func forgeReplies(ctx context.Context, t *testing.T, cfg config.Client, ready chan<- struct{}) {
	// The forger gets past CURVE (an outsider would not: see
	// TestKeyedChannelsRefuseOutsiders), so that the replies' own seals
	// are what is tested.
	key, err := auth.LoadKey(cfg.KeyFile)
	if err != nil {
		t.Error(err)
		close(ready)
		return
	}
	peers := broker.Peers{Key: key}
	sub, err := peers.NewSubscriber(cfg.CommandBackendURL, wire.TopicCommand)
	if err != nil {
		t.Error(err)
		close(ready)
		return
	}
	defer sub.Close()
	pub, err := peers.NewPublisher(cfg.LogFrontendURL)
	if err != nil {
		t.Error(err)
		close(ready)
		return
	}
	defer pub.Close()
	other, _ := auth.GenerateKey()
	close(ready)
	for {
		_, parts, err := sub.Recv(ctx)
		if err != nil {
			return
		}
		cmd := commandOf(parts[0])
		data, _ := json.Marshal(forgedReply(cmd, phantom))
		signed, _ := other.SealJSON(auth.PurposeReply, data)
		pub.WaitSubscribed(ctx, wire.TopicReply+cmd.ID)
		pub.Send(wire.TopicReply+cmd.ID, data)
		pub.Send(wire.TopicReply+cmd.ID, signed)
	}
}

// TestForgedRepliesOnLogChannelRefused: replies published on the log
// channel by a peer past CURVE that cannot seal them with the cluster key, for the very command ping -via zmq
// sent, list no phantom worker; ping says it refused them and exits 1,
// while the real workers' answers are shown.
func TestForgedRepliesOnLogChannelRefused(t *testing.T) {
	ctx := testenv.Context(t)
	l, cfg, _, _, ids := startKeyedLocal(t, ctx, 1)
	fctx, stop := context.WithCancel(ctx)
	ready, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		forgeReplies(fctx, t, l.Config(), ready)
	}()
	defer func() { stop(); <-done }()
	<-ready
	time.Sleep(200 * time.Millisecond) // the forger's subscription reaches the broker

	code, stdout, stderr := runCLI(t, "-c", cfg, "ping", "-via", "zmq", "-t", "3s")
	if strings.Contains(stdout, phantom) || strings.Contains(stdout, " phantom ") {
		t.Errorf("ping -via zmq lists the phantom worker:\n%s", stdout)
	}
	for _, id := range append(ids, l.Worker().ID()) {
		if !strings.Contains(stdout, id) {
			t.Errorf("ping -via zmq does not list the real worker %s:\n%s%s", id, stdout, stderr)
		}
	}
	if code != exitFailure || !strings.Contains(stderr, "refused 2 replies: "+pool.UnauthenticatedReply) ||
		!strings.Contains(stderr, "answered by 2 workers") {
		t.Errorf("ping -via zmq with forged replies: exit %d, want 1 saying it refused 2 replies\n%s%s", code, stdout, stderr)
	}
}

// TestCompetingFanoutWorker: a rogue "fanout" worker next to the real one
// takes some broadcasts. When it forges every worker's answer (and a
// phantom's), the forgeries do not count and ping names each worker as
// unanswered; when it answers nothing useful, ping still names the workers
// that did not answer. Either way ping exits 1; the broadcasts the real
// fanout worker carries succeed.
func TestCompetingFanoutWorker(t *testing.T) {
	ctx := testenv.Context(t)
	l, cfg, _, _, ids := startKeyedLocal(t, ctx, 1)
	addr := l.Config().JobServers[0]
	workers := append(ids, l.Worker().ID())
	var served atomic.Int32
	rogue, err := gearman.NewWorker([]string{addr}, gearman.WithClientID("rogue-fanout"))
	if err != nil {
		t.Fatal(err)
	}
	err = rogue.Register("fanout", func(_ context.Context, job *gearman.Job) ([]byte, error) {
		if served.Add(1)%2 == 0 {
			return nil, nil // swallowed
		}
		var req struct {
			Payload json.RawMessage `json:"payload"`
		}
		json.Unmarshal(job.Data, &req)
		cmd := commandOf(req.Payload)
		replies := map[string]pool.Reply{}
		for _, id := range append(workers, phantom) {
			replies[id] = forgedReply(cmd, id)
		}
		return json.Marshal(map[string]any{"replies": replies, "errors": map[string]string{}})
	})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- rogue.Run() }()
	defer func() { rogue.Close(); <-ran }()
	testenv.Eventually(t, ctx, "the rogue fanout worker registered", func() (bool, error) {
		return functionStatusOf(t, ctx, addr, "fanout").Workers == 2, nil
	})

	for i := 0; served.Load() < 4 && i < 60; i++ {
		before := served.Load()
		code, stdout, stderr := runCLI(t, "-c", cfg, "ping", "-t", "3s")
		if served.Load() == before {
			if code != exitOK {
				t.Errorf("ping through the real fanout worker: exit %d, want 0\n%s%s", code, stdout, stderr)
			}
			continue
		}
		if code != exitFailure || strings.Contains(stdout, phantom) {
			t.Errorf("ping through the rogue fanout worker: exit %d, want 1 and no phantom\n%s%s", code, stdout, stderr)
		}
		for _, id := range workers {
			if !strings.Contains(stderr, id+": ") || strings.Contains(stdout, id) {
				t.Errorf("ping through the rogue fanout worker does not name %s as unanswered:\n%s%s", id, stdout, stderr)
			}
		}
	}
	if n := served.Load(); n < 4 {
		t.Fatalf("the rogue fanout worker took %d of 60 pings; want 4 to test both of its ways", n)
	}
}

// TestOutsiderUnsubscribeFailsPingUntilHealed: right after an outsider's
// unsubscribe_fanout, ping through the fanout exits 1 naming the worker,
// which the job servers still list; within a renewal period it answers
// again and ping exits 0.
func TestOutsiderUnsubscribeFailsPingUntilHealed(t *testing.T) {
	ctx := testenv.Context(t)
	addr, fan, _, id := startRenewingWorker(t, ctx, "5s")
	cfg := writeConfig(t, []string{addr})
	// Just after a renewal, so that the next one is a whole period away.
	n := len(subscriptionEvents(fan.stderr.String(), id))
	fan.stderr.Wait(t, ctx, "a renewal", func(log string) bool {
		return len(subscriptionEvents(log, id)) > n
	}, fan.done)
	unsubscribeAsOutsider(t, ctx, addr, id)
	fan.stderr.Wait(t, ctx, "the fanout worker unsubscribing "+id, func(log string) bool {
		ev := subscriptionEvents(log, id)
		return ev[len(ev)-1] == "unsubscribed"
	}, fan.done)
	time.Sleep(300 * time.Millisecond) // it logs before it reloads its list
	code, stdout, stderr := runCLI(t, "-c", cfg, "ping", "-t", "1s")
	if code != exitFailure || !strings.Contains(stderr, id+": did not answer") {
		t.Errorf("ping after an outsider's unsubscribe: exit %d, want 1 naming %s\n%s%s", code, id, stdout, stderr)
	}
	hctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	testenv.Eventually(t, hctx, "ping exiting 0 again", func() (bool, error) {
		code, _, _ := runCLI(t, "-c", cfg, "ping", "-t", "2s")
		return code == exitOK, nil
	})
}

// TestKeyedMapCancelStopsRunningChunks: the cancel commands a map sends
// itself when it ends early are sealed, so a keyed worker obeys them: the
// running chunk's context is cancelled and nothing is refused.
func TestKeyedMapCancelStopsRunningChunks(t *testing.T) {
	ctx := testenv.Context(t)
	l, _, _, procs, ids := startKeyedLocal(t, ctx, 1)
	w := procs[0]
	mctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := pool.Map(mctx, l.Pool(), blockOnCtx, []int{40}, pool.Chunksize(1))
		errc <- err
	}()
	waitBlocking(t, ctx, w, []int{40})
	ended := time.Now()
	cancel()
	<-errc
	waitUnblocked(t, ctx, w, "a keyed map cancelled", ended, []int{40})
	if n := rejectedBy(t, ctx, l.Pool(), ids[0]); n != 0 {
		t.Errorf("the worker refused %d commands, want 0", n)
	}
}
