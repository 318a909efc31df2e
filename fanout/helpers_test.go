package fanout

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
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/gearmantest"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// TestMain checks that no goroutine, and no gearmand, postgres or gearman
// child process, outlives the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: leaked goroutines: %v\n", err)
			code = 1
		}
	}
	for _, p := range children() {
		fmt.Fprintf(os.Stderr, "FAIL: child process left behind: %s\n", p)
		code = 1
	}
	os.Exit(code)
}

// children lists the processes whose parent is this test binary.
func children() []string {
	var out []string
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		data, _ := os.ReadFile(st)
		s := string(data) // pid (comm) state ppid ...
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		if f := strings.Fields(s[i+1:]); len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			out = append(out, s[:i+1])
		}
	}
	return out
}

const waitFor = 10 * time.Second

// eventually polls cond until it holds or waitFor passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	testenv.Eventually(t, ctx, what, func() (bool, error) { return cond(), nil })
}

// testConfig has a copy timeout long enough for a loaded machine and no
// pruning unless a test asks for it.
func testConfig(store string) config.Fanout {
	return config.Fanout{Store: store, CopyTimeout: 20 * time.Second, PruneAfter: time.Hour}
}

func sqlitePath(t *testing.T) string { return filepath.Join(t.TempDir(), "fanout.db") }

// startWorker runs a fanout worker until the test ends.
func startWorker(t *testing.T, servers []string, cfg config.Fanout, opts ...Option) *Worker {
	t.Helper()
	w, err := NewWorker(config.Client{JobServers: servers}, cfg, opts...)
	if err != nil {
		t.Fatalf("NewWorker: %v", err)
	}
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	t.Cleanup(func() {
		w.Close()
		if err := <-ran; !errors.Is(err, ErrWorkerClosed) {
			t.Errorf("Run() = %v, want ErrWorkerClosed", err)
		}
	})
	return w
}

func newClient(t *testing.T, servers ...string) *gearman.Client {
	t.Helper()
	c, err := gearman.NewClient(context.Background(), servers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func call(t *testing.T, c *gearman.Client, fn string, v any) ([]byte, error) {
	t.Helper()
	data, ok := v.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return c.Call(ctx, fn, data)
}

func subscribe(t *testing.T, c *gearman.Client, topic, id string) {
	t.Helper()
	if err := Subscribe(context.Background(), c, topic, id); err != nil {
		t.Fatalf("subscribe %s to %s: %v", id, topic, err)
	}
}

func unsubscribe(t *testing.T, c *gearman.Client, topic, id string) {
	t.Helper()
	if err := Unsubscribe(context.Background(), c, topic, id); err != nil {
		t.Fatalf("unsubscribe %s from %s: %v", id, topic, err)
	}
}

// fanoutCount runs a foreground fanout that must succeed and returns its
// count.
func fanoutCount(t *testing.T, c *gearman.Client, topic, payload string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := Send(ctx, c, Request{Topic: topic, Payload: StringPayload(payload)})
	if err != nil {
		t.Fatalf("fanout to %s: %v", topic, err)
	}
	return n
}

// exception returns the WORK_EXCEPTION text of err, failing the test for
// any other outcome.
func exception(t *testing.T, res []byte, err error) string {
	t.Helper()
	var ex *gearman.JobException
	if !errors.As(err, &ex) {
		t.Fatalf("got result %q, error %v; want a WORK_EXCEPTION", res, err)
	}
	return string(ex.Data)
}

// subscriber is a Go worker serving one queue, recording what it got.
type subscriber struct {
	mu   sync.Mutex
	jobs []*gearman.Job
}

func (s *subscriber) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, j := range s.jobs {
		out = append(out, string(j.Data))
	}
	return out
}

// serve runs a Go worker for queue on addr with fn (nil: echo the data)
// until the test ends, and waits until the job server lists it.
func serve(t *testing.T, addr, queue string, fn gearman.JobFunc, opts ...gearman.WorkerOption) *subscriber {
	t.Helper()
	s := &subscriber{}
	w, err := gearman.NewWorker([]string{addr}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	err = w.Register(queue, func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		s.mu.Lock()
		s.jobs = append(s.jobs, j)
		s.mu.Unlock()
		if fn == nil {
			return j.Data, nil
		}
		return fn(ctx, j)
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		w.Run()
		close(done)
	}()
	t.Cleanup(func() {
		w.Close()
		<-done
	})
	waitServed(t, addr, queue, true)
	return s
}

// functionStatus returns the admin "status" line of fn.
func functionStatus(t *testing.T, addr, fn string) gearman.FunctionStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := gearmantest.FunctionStatus(ctx, addr, fn)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// waitServed waits until fn has (served) or has no (!served) worker.
func waitServed(t *testing.T, addr, fn string, served bool) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s served=%v on %s", fn, served, addr), func() bool {
		return (functionStatus(t, addr, fn).Workers > 0) == served
	})
}

// gearmanCLI runs the C gearman command against addr and returns its
// output.
func gearmanCLI(t *testing.T, addr string, args ...string) string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "gearman", append([]string{"-h", host, "-p", port}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gearman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// cWorker starts `gearman -w` (the C worker) serving fn with the command
// args, and waits until the job server lists it. It is killed when the
// test ends, if it has not been already.
func cWorker(t *testing.T, addr, fn string, args ...string) *exec.Cmd {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command("gearman", append([]string{"-h", host, "-p", port, "-w", "-f", fn, "--"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start C gearman worker: %v (install gearman-tools: bash scripts/install-deps.sh)", err)
	}
	waited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(waited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-waited
		if t.Failed() {
			t.Logf("C worker %s output:\n%s", fn, out.String())
		}
	})
	waitServed(t, addr, fn, true)
	return cmd
}

// storeSubscribers reads a topic straight from the store.
func storeSubscribers(t *testing.T, s Store, topic string) []string {
	t.Helper()
	ids, err := s.Subscribers(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func sameStrings(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
