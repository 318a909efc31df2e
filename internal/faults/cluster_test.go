package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/gearmand"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// proc is a child process: the test binary running glimpse-cluster.
type proc struct {
	args           []string
	cmd            *exec.Cmd
	stdout, stderr *testenv.Output
	done           chan struct{} // closed once the process is reaped
}

// pid is the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) String() string {
	return fmt.Sprintf("glimpse-cluster %s (pid %d)", strings.Join(p.args, " "), p.pid())
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// wait waits until the process has exited and been reaped.
func (p *proc) wait(t *testing.T, ctx context.Context) *os.ProcessState {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState
	case <-ctx.Done():
		t.Fatalf("%s still running: %v\nstderr:\n%s", p, ctx.Err(), p.stderr)
		return nil
	}
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: signal %v: %v", p, sig, err)
	}
}

// kill SIGKILLs the process and checks that it died of it.
func (p *proc) kill(t *testing.T, ctx context.Context) {
	t.Helper()
	p.signal(t, syscall.SIGKILL)
	if st := p.wait(t, ctx); !exitedBySignal(st, syscall.SIGKILL) {
		t.Fatalf("%s: %v after SIGKILL", p, st)
	}
}

// terminate sends SIGTERM and checks that the process exits with status 0.
func (p *proc) terminate(t *testing.T, ctx context.Context) {
	t.Helper()
	p.signal(t, syscall.SIGTERM)
	p.checkExitZero(t, ctx)
}

func (p *proc) checkExitZero(t *testing.T, ctx context.Context) {
	t.Helper()
	if st := p.wait(t, ctx); st.ExitCode() != 0 {
		t.Errorf("%s: %v after SIGTERM, want exit status 0; stderr:\n%s", p, st, p.stderr)
	}
}

// Setup describes a test cluster.
type Setup struct {
	JobServers   int      // gearmand processes (default 1)
	GearmandArgs []string // e.g. "--job-retries=3"
	Broker       bool     // broker URLs in [client] and [server]
	// Worker is extra [worker] lines, e.g. "heartbeat_interval = 50ms".
	Worker []string
	// Key gives the cluster a fresh key (key_file in [client]).
	Key bool
}

// Cluster is a test's cluster: its job servers, config file and the
// processes it started.
type Cluster struct {
	t       *testing.T
	ctx     context.Context
	servers []*gearmand.Process
	cfgPath string
	cfg     config.Client

	mu    sync.Mutex
	procs []*proc
}

// newCluster starts the job servers and writes the config file; the
// test starts the processes it needs.
func newCluster(t *testing.T, s Setup) *Cluster {
	t.Helper()
	c := &Cluster{t: t, ctx: testenv.Context(t)}
	var addrs []string
	for range max(s.JobServers, 1) {
		gd := testenv.Gearmand(t, s.GearmandArgs...)
		c.servers = append(c.servers, gd)
		addrs = append(addrs, gd.Addr())
	}
	dir := t.TempDir()
	lines := []string{"[client]", "job_server_url = " + strings.Join(addrs, ",")}
	if s.Key {
		lines = append(lines, "key_file = "+writeKey(t, dir))
	}
	var server []string
	if s.Broker {
		for _, key := range []string{"command_frontend_url", "command_backend_url", "log_frontend_url", "log_backend_url"} {
			url := "tcp://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
			lines = append(lines, key+" = "+url)
			server = append(server, key+" = "+url)
		}
	}
	if len(server) > 0 {
		lines = append(lines, "[server]")
		lines = append(lines, server...)
	}
	// A short drain bound: a test that breaks a drain fails fast.
	lines = append(lines, "[worker]", "shutdown_timeout = 20s")
	lines = append(lines, s.Worker...)
	lines = append(lines, "[fanout]", "store = "+filepath.Join(dir, "fanout.db"))
	c.cfgPath = filepath.Join(dir, "config.ini")
	if err := os.WriteFile(c.cfgPath, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(c.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	c.cfg = f.Client
	return c
}

// start starts "glimpse-cluster COMMAND -c CONFIG ARGS..." with env added
// to its environment. The test's cleanup SIGKILLs and reaps it if it is
// still running (shutdown is the clean way).
func (c *Cluster) start(t *testing.T, env []string, command string, args ...string) *proc {
	t.Helper()
	all := append([]string{command, "-c", c.cfgPath}, args...)
	argsJSON, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{args: all, stdout: testenv.NewOutput(), stderr: testenv.NewOutput(), done: make(chan struct{})}
	p.cmd = exec.Command(exe)
	p.cmd.Env = append(os.Environ(), childArgsEnv+"="+string(argsJSON))
	if os.Getenv("GORACE") == "" {
		// A -race binary sleeps 1s at exit by default, waiting for late
		// race reports; the child's goroutines are done by then.
		p.cmd.Env = append(p.cmd.Env, "GORACE=atexit_sleep_ms=0")
	}
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	// The kernel kills the child if the test binary dies.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", all, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	t.Cleanup(func() {
		// SIGCONT first: a test may have stopped it.
		p.cmd.Process.Signal(syscall.SIGCONT)
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s ended with %v; stderr:\n%s", p, p.cmd.ProcessState, p.stderr)
		}
	})
	return p
}

// worker starts "glimpse-cluster worker -n SLOTS" and waits until every
// job server lists it.
func (c *Cluster) worker(t *testing.T, slots int, env ...string) *proc {
	t.Helper()
	p := c.start(t, env, "worker", "-n", strconv.Itoa(slots))
	c.waitRegistered(t, p)
	return p
}

// waitRegistered waits until every running job server lists the worker
// process p as serving the test functions.
func (c *Cluster) waitRegistered(t *testing.T, p *proc) {
	t.Helper()
	for _, gd := range c.servers {
		if gd.Pid() == 0 {
			continue // stopped for good by the test
		}
		testenv.Eventually(t, c.ctx, fmt.Sprintf("%s registered on %s", p, gd.Addr()), func() (bool, error) {
			if !p.running() {
				t.Fatalf("%s exited with %v before it registered; stderr:\n%s", p, p.cmd.ProcessState, p.stderr)
			}
			ids, err := workerIDs(c.ctx, gd.Addr())
			_, ok := ids[p.pid()]
			return ok, err
		})
	}
}

// workerIDs asks a job server which glimpse worker processes serve the
// test functions: worker id by pid.
func workerIDs(ctx context.Context, addr string) (map[int]string, error) {
	a, err := gearman.DialAdmin(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	ws, err := a.Workers(ctx)
	if err != nil {
		return nil, err
	}
	ids := map[int]string{}
	for _, w := range ws {
		id, _, ok := wire.ParseWorkerClientID(w.ClientID)
		if !ok || !slices.Contains(w.Functions, wire.GearmanPrefix+square.Name()) {
			continue
		}
		// "host-pid-random"; the host may hold dashes.
		f := strings.Split(id, "-")
		if len(f) < 3 {
			continue
		}
		if pid, err := strconv.Atoi(f[len(f)-2]); err == nil {
			ids[pid] = id
		}
	}
	return ids, nil
}

// pool connects a pool to the cluster; the test's cleanup closes it.
func (c *Cluster) pool(t *testing.T, opts ...pool.Option) *pool.Pool {
	t.Helper()
	p, err := pool.New(c.cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// shutdown ends the test cleanly: SIGTERM to every process still running
// (all at once, so that their drains overlap), exit status 0 from each,
// and no child process left but the job servers, which testenv stops.
func (c *Cluster) shutdown(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	procs := slices.Clone(c.procs)
	c.mu.Unlock()
	var live []*proc
	for _, p := range procs {
		if p.running() {
			p.signal(t, syscall.SIGTERM)
			live = append(live, p)
		}
	}
	for _, p := range live {
		p.checkExitZero(t, c.ctx)
	}
	c.checkNoChildren(t)
}

// checkNoChildren fails the test if a child process other than the job
// servers is left: every process the test started has been reaped.
func (c *Cluster) checkNoChildren(t *testing.T) {
	t.Helper()
	var servers []string
	for _, gd := range c.servers {
		if pid := gd.Pid(); pid != 0 {
			servers = append(servers, strconv.Itoa(pid)+" ")
		}
	}
	for _, child := range childProcesses() {
		if !slices.ContainsFunc(servers, func(s string) bool { return strings.HasPrefix(child, s) }) {
			t.Errorf("child process left running: %s", child)
		}
	}
}

// runningMap is a pool.Map running on its own goroutine, so that the
// test can break things while it runs.
type runningMap[Out any] struct {
	done   chan struct{} // closed when Map has returned
	items  atomic.Int64  // items done so far (the Progress option)
	result []Out
	err    error
}

func startMap[In, Out any](ctx context.Context, p *pool.Pool, f pool.Func[In, Out], items []In, opts ...pool.MapOption) *runningMap[Out] {
	m := &runningMap[Out]{done: make(chan struct{})}
	opts = append(slices.Clone(opts), pool.Progress(func(done, _ int) { m.items.Store(int64(done)) }))
	go func() {
		defer close(m.done)
		m.result, m.err = pool.Map(ctx, p, f, items, opts...)
	}()
	return m
}

// waitItems waits until at least n items are done, failing if the map
// ends first: the fault must hit a map in progress.
func (m *runningMap[Out]) waitItems(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	testenv.Eventually(t, ctx, fmt.Sprintf("%d items done", n), func() (bool, error) {
		select {
		case <-m.done:
			t.Fatalf("the map ended (%v) before %d items were done: too fast to break it mid-map", m.err, n)
		default:
		}
		return m.items.Load() >= int64(n), nil
	})
}

func (m *runningMap[Out]) running() bool {
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// wait waits for the map's end.
func (m *runningMap[Out]) wait(t *testing.T, ctx context.Context) ([]Out, error) {
	t.Helper()
	select {
	case <-m.done:
		return m.result, m.err
	case <-ctx.Done():
		t.Fatalf("the map did not end: %v", ctx.Err())
		return nil, nil
	}
}

// ints returns from, from+1, ..., from+n-1.
func ints(from, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = from + i
	}
	return s
}

// checkSquares checks a map's results against its input: one result per
// item, in order, with the right value, computed by a real process. It
// returns how many items each pid computed.
func checkSquares(t *testing.T, items []int, got []Square, err error) map[int]int {
	t.Helper()
	if err != nil {
		t.Fatalf("map failed: %v", err)
	}
	if len(got) != len(items) {
		t.Fatalf("%d results for %d items", len(got), len(items))
	}
	byPID := map[int]int{}
	for i, x := range items {
		r := got[i]
		if r.X != x || r.Square != x*x || r.PID <= 0 {
			t.Fatalf("result %d = %+v, want the square of %d from a worker process", i, r, x)
		}
		byPID[r.PID]++
	}
	return byPID
}

// readLines reads a file's lines; a missing file has none.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
