package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/cli"
	"github.com/glimpse-go/glimpse/pool"
)

// Environment of the child processes. Only childArgsEnv makes the test
// binary a child; the others change what the registered functions do in
// the one process they are given to.
const (
	// childArgsEnv holds the glimpse-cluster arguments, as a JSON list:
	// the child runs cli.Main with them instead of the tests.
	childArgsEnv = "FAULTS_GLIMPSE_CLUSTER_ARGS"
	// holdEnv names a file: the first item this process gets is written
	// there, and the item then never returns, so the process holds its
	// chunk until it is killed.
	holdEnv = "FAULTS_HOLD_FILE"
	// slowEnv names a file: this process is slowFactor times slower per
	// item, and appends "start X" and "end X" lines around every item.
	slowEnv = "FAULTS_SLOW_LOG"
	// poisonLogEnv names a file to which the poison functions append a
	// line (the pid) each time they are called on the poison item.
	poisonLogEnv = "FAULTS_POISON_LOG"
)

const (
	itemSleep  = time.Millisecond // per item, so that chunks are in flight when something breaks
	slowFactor = 20
	// poisonExitCode is the exit status of a worker killed by poisonExit,
	// so that the test can tell that death from any other.
	poisonExitCode = 3
)

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(childArgsEnv); ok {
		childMain(args)
		return
	}
	goleak.VerifyTestMain(leftoverCheck{m})
}

// childMain runs glimpse-cluster: the worker, broker, fanout, ping and
// logs processes of the tests. It serves the functions registered below,
// since this is the same binary as the test's.
func childMain(argsJSON string) {
	var args []string
	if err := json.Unmarshal([]byte(argsJSON), &args); err != nil {
		fmt.Fprintf(os.Stderr, "faults: bad %s %q: %v\n", childArgsEnv, argsJSON, err)
		os.Exit(2)
	}
	os.Args = append([]string{"glimpse-cluster"}, args...)
	cli.Main()
}

// leftoverCheck fails the run if a child process outlives the tests.
type leftoverCheck struct{ m *testing.M }

func (l leftoverCheck) Run() int {
	code := l.m.Run()
	if left := childProcesses(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "faults: child processes left running after the tests: %s\n", strings.Join(left, "; "))
		code = max(code, 1)
	}
	return code
}

// childProcesses describes every process whose parent is this one
// ("pid (command) state"), zombies included: a zombie is a child nobody
// reaped.
func childProcesses() []string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return []string{"cannot read /proc: " + err.Error()}
	}
	me := os.Getpid()
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// "pid (comm) state ppid ...": comm may hold spaces and parens.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == me {
			out = append(out, fmt.Sprintf("%d %s %s", pid, s[strings.IndexByte(s, '('):i+1], f[0]))
		}
	}
	return out
}

// Square is what the test functions return: the item, its square, and
// the pid of the worker process that computed it, so that a test can see
// where each chunk ran.
type Square struct {
	X, Square, PID int
}

// The poison items of the poison functions.
const (
	poisonPanicItem = 555
	poisonExitItem  = 155
)

var (
	// held makes holdEnv act on the first item only.
	held atomic.Bool

	// square squares an item, slowly enough that chunks are in flight
	// when a test breaks something; see holdEnv and slowEnv.
	square = pool.Register("faults.square", func(ctx context.Context, x int) (Square, error) {
		if path := os.Getenv(holdEnv); path != "" && held.CompareAndSwap(false, true) {
			if err := writeFileAtomic(path, strconv.Itoa(x)); err != nil {
				return Square{}, err
			}
			<-ctx.Done() // until the process is killed
			return Square{}, ctx.Err()
		}
		if path := os.Getenv(slowEnv); path != "" {
			appendLine(path, "start "+strconv.Itoa(x))
			time.Sleep(slowFactor * itemSleep)
			appendLine(path, "end "+strconv.Itoa(x))
		} else {
			time.Sleep(itemSleep)
		}
		return Square{X: x, Square: x * x, PID: os.Getpid()}, nil
	})

	// poisonPanic panics on poisonPanicItem, every time.
	poisonPanic = pool.Register("faults.poisonpanic", func(ctx context.Context, x int) (Square, error) {
		if x == poisonPanicItem {
			appendLine(os.Getenv(poisonLogEnv), strconv.Itoa(os.Getpid()))
			panic(fmt.Sprintf("poison item %d", x))
		}
		time.Sleep(itemSleep)
		return Square{X: x, Square: x * x, PID: os.Getpid()}, nil
	})

	// poisonExit kills its worker process on poisonExitItem, every time.
	poisonExit = pool.Register("faults.poisonexit", func(ctx context.Context, x int) (Square, error) {
		if x == poisonExitItem {
			appendLine(os.Getenv(poisonLogEnv), strconv.Itoa(os.Getpid()))
			os.Exit(poisonExitCode)
		}
		time.Sleep(itemSleep)
		return Square{X: x, Square: x * x, PID: os.Getpid()}, nil
	})
)

// appendLine appends one line to a file; O_APPEND makes each write land
// whole even with several writers. A path of "" does nothing.
func appendLine(path, line string) {
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "faults: %v\n", err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		fmt.Fprintf(os.Stderr, "faults: %v\n", err)
	}
}

// writeFileAtomic writes a file that readers see whole or not at all.
func writeFileAtomic(path, text string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// exitedBySignal reports whether a wait status is a death by sig.
func exitedBySignal(st *os.ProcessState, sig syscall.Signal) bool {
	ws, ok := st.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}
