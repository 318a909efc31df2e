package netns_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/gearmand"
	"github.com/glimpse-go/glimpse/internal/netns"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// Environment of the test binary's children.
const (
	// childEnv makes the test binary run cli.Main: glimpse-cluster
	// with the example functions and slowSquare.
	childEnv = "GLIMPSE_NETNS_TEST_CHILD"
	// insideEnv makes the test binary run one test's body inside the
	// client host of the cluster whose prefix it holds.
	insideEnv = "GLIMPSE_NETNS_TEST_INSIDE"
	// hostEnv tells a worker process which host it runs on.
	hostEnv = "GLIMPSE_NETNS_HOST"
)

// prefixTag starts the prefix of every cluster these tests make.
const prefixTag = "gn"

// gearmandPort is where the cluster's config puts gearmand.
const gearmandPort = "4730"

// upCluster makes a cluster for the test and removes it in cleanup; it
// skips the test where namespaces cannot be made.
func upCluster(t *testing.T) *netns.Cluster {
	t.Helper()
	ctx := testenv.Context(t)
	// Clusters of test binaries that were killed before their cleanup.
	if err := netns.ReapStale(ctx, prefixTag); err != nil && !errors.Is(err, netns.ErrUnsupported) {
		t.Logf("removing stale clusters: %v", err)
	}
	c, err := netns.Up(ctx, netns.NewPrefix(prefixTag))
	if errors.Is(err, netns.ErrUnsupported) {
		t.Skipf("skipping the multi-host test: %v (it needs root with CAP_SYS_ADMIN and iproute2)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("remove the cluster: %v", err)
		}
	})
	return c
}

// clientHost runs the calling test inside the client host of a fresh
// cluster: the test process lives in the root namespace, which by design
// has no route to the hosts, so it runs itself again, in the client host's
// namespace, with only this test selected. There the whole test body
// (pool, admin connections, command line) talks to the cluster directly.
//
// In the outer process it makes the cluster, runs the inner one, reports
// its outcome and returns nil: the caller returns. In the inner process it
// returns the cluster.
func clientHost(t *testing.T) *netns.Cluster {
	t.Helper()
	if prefix := os.Getenv(insideEnv); prefix != "" {
		c, err := netns.Attach(testenv.Context(t), prefix)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := upCluster(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-test.run=^" + regexp.QuoteMeta(t.Name()) + "$", "-test.v", "-test.count=1"}
	if d, ok := t.Deadline(); ok {
		args = append(args, "-test.timeout="+time.Until(d).Round(time.Second).String())
	}
	cmd := c.Command("client", exe, args...)
	cmd.Env = append(raceQuickExit(os.Environ()), insideEnv+"="+c.Prefix())
	var out bytes.Buffer // one writer: exec then writes from one goroutine
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("the test inside host client of cluster %s: %v\n%s", c.Prefix(), err, out.String())
	}
	switch {
	case strings.Contains(out.String(), "--- SKIP: "+t.Name()):
		t.Skipf("skipped inside the client host:\n%s", out.String())
	case !strings.Contains(out.String(), "--- PASS: "+t.Name()):
		t.Fatalf("the test inside the client host did not pass:\n%s", out.String())
	}
	if testing.Verbose() {
		t.Logf("inside host client of cluster %s (%v):\n%s", c.Prefix(), time.Since(start).Round(time.Millisecond), out.String())
	}
	return nil
}

// proc is a child process on one of the cluster's hosts.
type proc struct {
	name           string // "w1 worker", for messages
	cmd            *exec.Cmd
	stdout, stderr *testenv.Output
	done           chan struct{} // closed once reaped
}

// start starts cmd as a proc; the test's cleanup kills and reaps it.
func start(t *testing.T, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, stdout: testenv.NewOutput(), stderr: testenv.NewOutput(), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	// Killed by the kernel if the test dies: ip netns exec execs the
	// program, so the signal setting reaches it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s (pid %d) stderr, last lines:\n%s", name, cmd.Process.Pid, lastLines(p.stderr.String(), 40))
		}
	})
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and returns the exit status.
func (p *proc) stop(t *testing.T, ctx context.Context) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM to %s: %v", p.name, err)
	}
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-ctx.Done():
		t.Fatalf("%s still running after SIGTERM: %v", p.name, ctx.Err())
		return -1
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// testCluster is the processes of a glimpse cluster on the namespaces:
// gearmand, broker and fanout, and one worker process per worker host.
type testCluster struct {
	c          *netns.Cluster
	configPath string
	gearmand   string // gearmand's address
	server     *proc
	broker     *proc
	fanout     *proc
	workers    map[string]*proc // by host
}

// gearmandArgs make gearmand notice a peer that went silent: TCP keepalive
// probes after 1s of silence, every 1s, 3 unanswered ones and the
// connection is dropped (its jobs go back to the queue).
var gearmandArgs = []string{"--keepalive", "--keepalive-idle=1", "--keepalive-interval=1", "--keepalive-count=3"}

// startCluster starts the cluster's processes, each on its host, and waits
// until every worker serves functions from its own address.
// workerEnv adds environment variables to the worker process of a host.
func startCluster(t *testing.T, c *netns.Cluster, slots int, workerEnv map[string][]string) *testCluster {
	t.Helper()
	ctx := testenv.Context(t)
	dir := t.TempDir()
	tc := &testCluster{c: c, configPath: filepath.Join(dir, "config.ini"),
		gearmand: c.Addr("gearmand") + ":" + gearmandPort, workers: map[string]*proc{}}
	cfg := c.Config() + "\n[fanout]\nstore = " + filepath.Join(dir, "fanout.db") + "\n"
	if err := os.WriteFile(tc.configPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.Config(), "job_server_url = "+tc.gearmand+"\n") {
		t.Fatalf("the cluster's config does not name gearmand at %s:\n%s", tc.gearmand, c.Config())
	}

	// Retransmissions of unacknowledged data give up after tcp_retries2
	// (default 15: about 15 minutes); keepalive covers idle connections
	// only, so shorten this too, in the job server's namespace only.
	if err := c.SetSysctl("gearmand", "net.ipv4.tcp_retries2", "3"); err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("gearmand")
	if err != nil {
		bin = "/usr/sbin/gearmand"
		if _, err := os.Stat(bin); err != nil {
			t.Fatal(gearmand.ErrNotInstalled)
		}
	}
	args := append([]string{"--listen=" + c.Addr("gearmand"), "--port=" + gearmandPort,
		"--log-file=" + filepath.Join(dir, "gearmand.log"), "--pid-file=" + filepath.Join(dir, "gearmand.pid"),
		"--config-file=" + os.DevNull, "--verbose=INFO"}, gearmandArgs...)
	tc.server = start(t, "gearmand", c.Command("gearmand", bin, args...))
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "gearmand.log"))
			t.Logf("gearmand log, last lines:\n%s", lastLines(string(log), 40))
		}
	})
	admin := dialAdmin(t, ctx, tc.gearmand)
	testenv.Eventually(t, ctx, "gearmand answering on "+tc.gearmand, func() (bool, error) {
		_, err := admin.Version(ctx)
		return err == nil, err
	})

	tc.broker = tc.start(t, "broker", nil, "broker")
	tc.fanout = tc.start(t, "broker", nil, "fanout")
	for _, h := range c.WorkerHosts() {
		tc.workers[h] = tc.start(t, h, workerEnv[h], "worker", "-n", strconv.Itoa(slots))
	}
	testenv.Eventually(t, ctx, "a worker on each worker host", func() (bool, error) {
		hosts, err := tc.workerHosts(ctx, admin, "glimpse.examples.square")
		return len(hosts) == len(tc.workers), err
	})
	return tc
}

// start runs glimpse-cluster -c CONFIG ARGS on host (the test binary, see
// TestMain), with env added to its environment.
func (tc *testCluster) start(t *testing.T, host string, env []string, args ...string) *proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := tc.c.Command(host, exe, append([]string{"-c", tc.configPath}, args...)...)
	cmd.Env = append(append(childEnviron(), hostEnv+"="+host), env...)
	return start(t, host+" "+args[0], cmd)
}

// childEnviron is the environment of a glimpse-cluster child.
func childEnviron() []string {
	return raceQuickExit(append(os.Environ(), childEnv+"=1"))
}

// raceQuickExit adds to a child's environment that a -race binary need not
// sleep 1s at exit, waiting for late race reports: the child's goroutines
// are done by then (the test's own are checked by goleak).
func raceQuickExit(env []string) []string {
	if os.Getenv("GORACE") == "" {
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	return env
}

// cli runs glimpse-cluster -c CONFIG ARGS here (on the client host) and
// returns its stdout and stderr.
func (tc *testCluster) cli(t *testing.T, ctx context.Context, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, exe, append([]string{"-c", tc.configPath}, args...)...)
	cmd.Env = childEnviron()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Run()
	return o.String(), e.String(), err
}

// workerHosts returns the hosts from which a glimpse worker connection
// serves function, according to gearmand's admin "workers".
func (tc *testCluster) workerHosts(ctx context.Context, admin *gearman.Admin, function string) ([]string, error) {
	ws, err := admin.Workers(ctx)
	if err != nil {
		return nil, err
	}
	var hosts []string
	for _, w := range ws {
		if strings.HasPrefix(w.ClientID, "glimpse/") && slices.Contains(w.Functions, function) {
			h := tc.c.HostOf(w.Addr)
			if h == "" {
				h = "unknown address " + w.Addr
			}
			if !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	slices.Sort(hosts)
	return hosts, nil
}

// stopAll stops every process with SIGTERM, workers first (they leave the
// fanout topic on their way out), and checks that each exits 0.
func (tc *testCluster) stopAll(t *testing.T, ctx context.Context) {
	t.Helper()
	var procs []*proc
	for _, h := range slices.Sorted(maps.Keys(tc.workers)) {
		procs = append(procs, tc.workers[h])
	}
	procs = append(procs, tc.fanout, tc.broker, tc.server)
	for _, p := range procs {
		if code := p.stop(t, ctx); code != 0 {
			t.Errorf("%s exited with status %d after SIGTERM, want 0; stderr:\n%s", p.name, code, lastLines(p.stderr.String(), 20))
		}
	}
}

func dialAdmin(t *testing.T, ctx context.Context, addr string) *gearman.Admin {
	t.Helper()
	var a *gearman.Admin
	testenv.Eventually(t, ctx, "an admin connection to "+addr, func() (bool, error) {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		var err error
		a, err = gearman.DialAdmin(dctx, addr)
		return err == nil, err
	})
	t.Cleanup(func() { a.Close() })
	return a
}

// pingPIDs runs glimpse-cluster ping ARGS and returns the PID and NREQS
// columns of its table.
func (tc *testCluster) pingPIDs(t *testing.T, ctx context.Context, args ...string) (map[int]int64, error) {
	t.Helper()
	stdout, stderr, err := tc.cli(t, ctx, append([]string{"ping", "-t", "2s"}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("glimpse-cluster ping %s: %w\n%s%s", strings.Join(args, " "), err, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "WORKER") {
		return nil, fmt.Errorf("ping printed no table:\n%s%s", stdout, stderr)
	}
	header := strings.Fields(lines[0])
	pidCol, nreqsCol := slices.Index(header, "PID"), slices.Index(header, "NREQS")
	if pidCol < 0 || nreqsCol < 0 {
		return nil, fmt.Errorf("ping table has no PID or NREQS column:\n%s", stdout)
	}
	got := map[int]int64{}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) <= max(pidCol, nreqsCol) {
			return nil, fmt.Errorf("ping table row %q is short", line)
		}
		pid, err1 := strconv.Atoi(f[pidCol])
		n, err2 := strconv.ParseInt(f[nreqsCol], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("ping table row %q: %w", line, err)
		}
		got[pid] = n
	}
	return got, nil
}

// workerPIDs maps each worker process's pid to its host.
func (tc *testCluster) workerPIDs() map[int]string {
	m := map[int]string{}
	for h, p := range tc.workers {
		m[p.pid()] = h
	}
	return m
}

// unacked returns the bytes that host has sent to peer and that peer has
// not acknowledged, over all their TCP connections (ss's Send-Q, read in
// host's namespace).
func unacked(c *netns.Cluster, host, peer string) (int, error) {
	out, err := c.Command(host, "ss", "-Htn", "state", "established", "dst", c.Addr(peer)).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("ss on %s: %w\n%s", host, err, out)
	}
	total, conns := 0, 0
	for line := range strings.Lines(string(out)) {
		conns++
		f := strings.Fields(line) // Recv-Q Send-Q Local Peer
		if len(f) < 4 {
			return 0, fmt.Errorf("ss on %s printed %q", host, line)
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			return 0, fmt.Errorf("ss on %s printed %q: %w", host, line, err)
		}
		total += n
	}
	if conns == 0 {
		return 0, fmt.Errorf("ss on %s lists no connection to %s", host, peer)
	}
	return total, nil
}
