package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/glimpse-go/glimpse/internal/wire"
	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/clustertest"
	"github.com/glimpse-go/glimpse/internal/gearmantest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// childEnv makes the test binary run Main, as glimpse-cluster with the
// example functions plus blockFunc (see childMain).
const childEnv = "GLIMPSE_CLUSTER_TEST_CHILD"

// noStdinEnv keeps a child's blockName jobs from reading stdin.
const noStdinEnv = "GLIMPSE_CLUSTER_TEST_NO_STDIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		childMain()
		return
	}
	goleak.VerifyTestMain(m)
}

// errThree is what failThree returns for the item 3.
var errThree = errors.New("three is right out")

// failThree is a registered function that fails on one item, to see a
// task error travel from a worker process to pool.Map.
var failThree = pool.Register("clustertest.failthree", func(_ context.Context, x int) (int, error) {
	if x == 3 {
		return 0, errThree
	}
	return x, nil
})

// blockName is the function whose jobs a child worker holds until the
// test releases them: the job prints "running DATA" on stdout, waits for
// a line on stdin, and returns "done DATA". It is a fake wire.Function, so
// that tests can submit its jobs with a plain gearman.Client.
const blockName = "clustertest.block"

func childMain() {
	releases := make(chan struct{})
	go func() {
		if os.Getenv(noStdinEnv) != "" {
			return // stdin is a terminal that the command reads (top)
		}
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			releases <- struct{}{}
		}
	}()
	block := fakeFunc{FuncName: blockName, Run: func(ctx context.Context, payload []byte, _ string) ([]byte, error) {
		fmt.Printf("running %s\n", payload)
		select {
		case <-releases:
			return append([]byte("done "), payload...), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
	registeredFunctions = func() []wire.Function {
		return append(append(wire.Functions(), block), limitFuncs...)
	}
	Main()
}

// functionStatusOf returns the admin status of one Gearman function.
func functionStatusOf(t *testing.T, ctx context.Context, addr, function string) gearman.FunctionStatus {
	t.Helper()
	st, err := gearmantest.FunctionStatus(ctx, addr, function)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// proc is a child process running Main (as glimpse-cluster would).
type proc struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr *testenv.Output
	done           chan struct{}
}

// startProc starts glimpse-cluster ARGS as a child; the test's cleanup
// kills it if it is still running.
func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{stdout: testenv.NewOutput(), stderr: testenv.NewOutput(), done: make(chan struct{})}
	p.cmd = exec.Command(exe, args...)
	p.cmd.Env = append(os.Environ(), childEnv+"=1")
	if os.Getenv("GORACE") == "" {
		// A -race binary sleeps 1s at exit by default, waiting for late
		// race reports; the child's goroutines are done by then.
		p.cmd.Env = append(p.cmd.Env, "GORACE=atexit_sleep_ms=0")
	}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	// The kernel kills the child if the test binary dies.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("glimpse-cluster %s (pid %d) stderr:\n%s", strings.Join(args, " "), p.cmd.Process.Pid, p.stderr)
		}
	})
	return p
}

func (p *proc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// release lets one held blockName job finish.
func (p *proc) release(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, "\n"); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its exit status.
func (p *proc) wait(t *testing.T, ctx context.Context) int {
	t.Helper()
	select {
	case <-p.done:
	case <-ctx.Done():
		t.Fatalf("process still running: %v", ctx.Err())
	}
	return p.cmd.ProcessState.ExitCode()
}

// The shared helpers (internal/clustertest), under the names the tests use.
var exampleGearmanNames = clustertest.ExampleGearmanNames

type fakeFunc = clustertest.FakeFunc

type testWriter = clustertest.LogWriter

func writeConfig(t *testing.T, servers []string, extra ...string) string {
	t.Helper()
	return clustertest.WriteConfig(t, servers, extra...)
}

func waitWorker(t *testing.T, ctx context.Context, addr string, functions ...string) gearman.WorkerInfo {
	t.Helper()
	return clustertest.WaitWorker(t, ctx, addr, functions...)
}

func checkSquares(t *testing.T, ctx context.Context, pl *pool.Pool) {
	t.Helper()
	clustertest.CheckSquares(t, ctx, pl)
}

func newClient(t *testing.T, ctx context.Context, addrs ...string) *gearman.Client {
	t.Helper()
	return clustertest.NewClient(t, ctx, addrs...)
}

func processGone(pid int) bool { return clustertest.ProcessGone(pid) }

// withSlots is wc with n slots.
func withSlots(wc config.Worker, n int) config.Worker {
	wc.Slots = n
	return wc
}
