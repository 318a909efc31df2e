package cli

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// TestTopPlainOutput runs top with stdout a pipe against a cluster with
// worker processes and a map running: it prints once and exits 0, with a
// row for every worker (its pid), the map with its function and total,
// and the functions' queues.
func TestTopPlainOutput(t *testing.T) {
	ctx := testenv.Context(t)
	l, cfg, procs, ids := startWatchedCluster(t, ctx, 2)
	mapDone := make(chan error, 1)
	go func() {
		naps := slices.Repeat([]time.Duration{100 * time.Millisecond}, 100)
		_, err := pool.Map(ctx, l.Pool(), dashNap, naps, pool.Chunksize(1))
		mapDone <- err
	}()
	defer func() {
		if err := <-mapDone; err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(500 * time.Millisecond) // the map is announced after 200ms
	code, stdout, stderr := runCLI(t, "-c", cfg, "top", "-t", "5s")
	if code != exitOK {
		t.Fatalf("top exit %d: %s", code, stderr)
	}
	for i, id := range ids {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(id) + `\s+\S+\s+\d+\s+[12]\s+`).MatchString(stdout) {
			t.Errorf("no row for worker %d (%s) in:\n%s", i, id, stdout)
		}
	}
	for _, p := range procs {
		if !regexp.MustCompile(`\s` + strconv.Itoa(p.cmd.Process.Pid) + `\s`).MatchString(stdout) {
			t.Errorf("no row with the pid %d of a worker process in:\n%s", p.cmd.Process.Pid, stdout)
		}
	}
	if !regexp.MustCompile(`(?m)^[0-9a-f]{16}\s+test\.dashnap\s+\d+\s+100\s+\d+%`).MatchString(stdout) {
		t.Errorf("no row for the running map of test.dashnap (100 items) in:\n%s", stdout)
	}
	if !regexp.MustCompile(`(?m)^examples\.square\s+127\.0\.0\.1:\d+\s+0\s+0\s+3\s+5\s*$`).MatchString(stdout) {
		t.Errorf("no queue row for examples.square (3 workers, 5 slots) in:\n%s", stdout)
	}
}

// TestTopOnTerminal runs top on a pseudo-terminal: it draws the workers
// in place, quits on q (and, in a second run, on SIGTERM) with exit 0, and
// leaves the terminal in the mode it found it (canonical, echo, output
// processing).
func TestTopOnTerminal(t *testing.T) {
	ctx := testenv.Context(t)
	_, cfg, _, ids := startWatchedCluster(t, ctx, 1)
	for _, stop := range []string{"q", "SIGTERM"} {
		t.Run(stop, func(t *testing.T) {
			ptmx, tty, err := pty.Open()
			if err != nil {
				t.Skipf("no pseudo-terminal: %v", err)
			}
			defer ptmx.Close()
			pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 160})
			before, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
			if err != nil {
				t.Fatal(err)
			}
			cmd, done := startOnTerminal(t, tty, "-c", cfg, "top", "-d", "200ms")
			out := testenv.NewOutput()
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := ptmx.Read(buf)
					out.Write(buf[:n])
					if err != nil {
						return
					}
				}
			}()
			out.WaitFor(t, ctx, ids[1], done)
			if stop == "q" {
				ptmx.Write([]byte("q"))
			} else {
				cmd.Process.Signal(syscall.SIGTERM)
			}
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("top still running 5s after %s", stop)
			}
			if code := cmd.ProcessState.ExitCode(); code != exitOK {
				t.Errorf("top exit %d after %s", code, stop)
			}
			testenv.Eventually(t, ctx, "the alternate screen left", func() (bool, error) {
				return strings.Contains(out.String(), "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J") && strings.HasSuffix(out.String(), "\x1b[?25h\x1b[?1049l"), nil
			})
			after, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
			if err != nil {
				t.Fatal(err)
			}
			const lflags = unix.ICANON | unix.ECHO | unix.ISIG
			if after.Lflag&lflags != before.Lflag&lflags || after.Oflag&unix.OPOST != before.Oflag&unix.OPOST {
				t.Errorf("terminal not restored after %s: lflag %#x oflag %#x, was %#x %#x", stop, after.Lflag, after.Oflag, before.Lflag, before.Oflag)
			}
			tty.Close()
		})
	}
}

// startOnTerminal runs glimpse-cluster ARGS with tty as its controlling
// terminal, stdin, stdout and stderr.
func startOnTerminal(t *testing.T, tty *os.File, args ...string) (*exec.Cmd, chan struct{}) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), childEnv+"=1", noStdinEnv+"=1", "GORACE=atexit_sleep_ms=0")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return cmd, done
}

// TestDashboardAndTopFlags: bad flags are usage errors naming the flag,
// and the dashboard refuses to listen on every interface.
func TestDashboardAndTopFlags(t *testing.T) {
	cfg := writeConfig(t, []string{"127.0.0.1:1"})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-c", cfg, "dashboard", "-listen", "0.0.0.0:8470"}, "every interface"},
		{[]string{"-c", cfg, "dashboard", "-listen", "nonsense"}, `-listen: dashboard: listen address "nonsense"`},
		{[]string{"-c", cfg, "top", "-d", "0"}, "-d and -t must be positive"},
		{[]string{"local", "-dashboard", "nonsense"}, `-dashboard "nonsense": want HOST:PORT`},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}
