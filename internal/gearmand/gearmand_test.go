package gearmand

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain fails the run if any gearmand child (running or unreaped) is
// left behind once all tests are done.
func TestMain(m *testing.M) {
	code := m.Run()
	if left := gearmandChildren(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: gearmand children left behind: %v\n", left)
		code = 1
	}
	os.Exit(code)
}

// gearmandChildren lists "pid(state)" of gearmand processes whose parent is
// this test binary.
func gearmandChildren() []string {
	var out []string
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		data, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(data)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(s[close+1:])
		if len(f) < 2 || s[open+1:close] != "gearmand" || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		out = append(out, fmt.Sprintf("%s(%s)", strings.TrimSpace(s[:open]), f[0]))
	}
	return out
}

// start starts a server for a test and always stops it.
func start(t *testing.T, opts Options) *Process {
	t.Helper()
	if opts.LogFile == "" {
		opts.LogFile = tmpLog(t)
	}
	p, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if t.Failed() {
			t.Logf("gearmand log %s:\n%s", p.Log(), p.LogTail(50))
		}
	})
	return p
}

// tmpLog returns a log path that is removed after the test, so passing tests
// don't litter /tmp with kept logs.
func tmpLog(t *testing.T) string {
	return filepath.Join(t.TempDir(), "gearmand.log")
}

// version asks the server at addr for its version.
func version(t *testing.T, addr string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("version\n")); err != nil {
		t.Fatalf("write: %v", err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return strings.TrimSpace(line)
}

func TestStartStop(t *testing.T) {
	t.Parallel()
	p := start(t, Options{})
	if p.Port() <= 0 || p.Addr() != "127.0.0.1:"+strconv.Itoa(p.Port()) {
		t.Fatalf("Port() = %d, Addr() = %q", p.Port(), p.Addr())
	}
	if p.Pid() <= 0 {
		t.Fatalf("Pid() = %d, want > 0", p.Pid())
	}
	if v := version(t, p.Addr()); !strings.HasPrefix(v, "OK ") {
		t.Fatalf("version = %q, want OK ...", v)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if p.Pid() != 0 {
		t.Fatalf("Pid() after Stop = %d, want 0", p.Pid())
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	// A clean SIGTERM shutdown is logged by gearmand itself.
	if tail := p.LogTail(5); !strings.Contains(tail, "Shutdown complete") {
		t.Fatalf("log tail lacks shutdown message:\n%s", tail)
	}
}

func TestStopConcurrent(t *testing.T) {
	t.Parallel()
	p := start(t, Options{})
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			if i%2 == 0 {
				errs[i] = p.Stop()
			} else {
				errs[i] = p.Kill()
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if p.Pid() != 0 {
		t.Fatalf("Pid() = %d, want 0", p.Pid())
	}
}

func TestRestartSamePort(t *testing.T) {
	t.Parallel()
	p := start(t, Options{Args: []string{"--threads=2"}})
	port, pid := p.Port(), p.Pid()

	// An open client connection must not stop the port from being reused.
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	if err := p.Restart(context.Background()); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if p.Port() != port {
		t.Fatalf("port changed across Restart: %d -> %d", port, p.Port())
	}
	if p.Pid() == pid || p.Pid() == 0 {
		t.Fatalf("Pid() after Restart = %d (before %d), want a new process", p.Pid(), pid)
	}
	if v := version(t, p.Addr()); !strings.HasPrefix(v, "OK ") {
		t.Fatalf("version after Restart = %q", v)
	}
	// The log is appended to, not truncated, so both runs are in it.
	data, err := os.ReadFile(p.Log())
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "Starting up with pid"); n != 2 {
		t.Fatalf("log has %d startups, want 2", n)
	}
}

func TestKillThenRestart(t *testing.T) {
	t.Parallel()
	p := start(t, Options{})
	if err := p.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if p.Pid() != 0 {
		t.Fatalf("Pid() after Kill = %d, want 0", p.Pid())
	}
	if err := p.Kill(); err != nil {
		t.Fatalf("second Kill: %v", err)
	}
	if err := p.Restart(context.Background()); err != nil {
		t.Fatalf("Restart after Kill: %v", err)
	}
	if v := version(t, p.Addr()); !strings.HasPrefix(v, "OK ") {
		t.Fatalf("version after Restart = %q", v)
	}
}

func TestFixedPort(t *testing.T) {
	t.Parallel()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	p := start(t, Options{Port: port})
	if p.Port() != port {
		t.Fatalf("Port() = %d, want %d", p.Port(), port)
	}
	version(t, p.Addr())
}

func TestFixedPortInUse(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	// gearmand keeps retrying bind() for ~20s, so bound the wait.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	p, err := Start(ctx, Options{Port: port, LogFile: tmpLog(t)})
	if err == nil {
		p.Stop()
		t.Fatal("Start on a busy port succeeded")
	}
	if !errors.Is(err, errPortInUse) {
		t.Fatalf("error = %v, want errPortInUse", err)
	}
	t.Logf("error, as expected: %v", err)
}

func TestFreePortTakenRetries(t *testing.T) {
	// Not parallel: it swaps pickPort.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port

	calls := 0
	pickPort = func() (int, error) {
		calls++
		if calls == 1 {
			return busy, nil // as if someone grabbed it after we closed it
		}
		return freePort()
	}
	defer func() { pickPort = freePort }()

	p := start(t, Options{})
	if p.Port() == busy {
		t.Fatalf("Start used the busy port %d", busy)
	}
	if calls < 2 {
		t.Fatalf("pickPort called %d times, want a retry", calls)
	}
	version(t, p.Addr())
}

func TestBadFlagShowsLog(t *testing.T) {
	t.Parallel()
	p, err := Start(context.Background(), Options{Args: []string{"--no-such-flag"}, LogFile: tmpLog(t)})
	if err == nil {
		p.Stop()
		t.Fatal("Start with a bad flag succeeded")
	}
	// gearmand prints option errors on stderr, which goes to the log.
	if !strings.Contains(err.Error(), "unrecognised option '--no-such-flag'") {
		t.Fatalf("error lacks gearmand's message: %v", err)
	}
	t.Logf("error, as expected: %v", err)
}

func TestManagedFlagsRejected(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"--port=1", "-p", "--listen=0.0.0.0", "-L0.0.0.0", "--daemon", "-d", "--log-file=x", "-l"} {
		if p, err := Start(context.Background(), Options{Args: []string{arg}}); err == nil {
			p.Stop()
			t.Errorf("Start with %q succeeded", arg)
		}
	}
}

func TestArgsOverrideDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logFile := filepath.Join(dir, "g.log")
	pidFile := filepath.Join(dir, "g.pid")
	// gearmand rejects repeated flags, so these must replace our defaults.
	p := start(t, Options{LogFile: logFile, Args: []string{"--verbose=DEBUG", "--pid-file=" + pidFile}})
	if p.Log() != logFile {
		t.Fatalf("Log() = %q, want %q", p.Log(), logFile)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(data)); got != strconv.Itoa(p.Pid()) {
		t.Fatalf("pid file has %q, want %d", got, p.Pid())
	}
	if !strings.Contains(p.LogTail(100), "DEBUG") {
		t.Fatalf("no DEBUG lines in log:\n%s", p.LogTail(100))
	}
}

func TestNotInstalled(t *testing.T) {
	// Not parallel: it changes PATH and defaultBinaries.
	t.Setenv("PATH", t.TempDir())
	saved := defaultBinaries
	defaultBinaries = []string{filepath.Join(t.TempDir(), "gearmand")}
	defer func() { defaultBinaries = saved }()

	_, err := Start(context.Background(), Options{})
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("error = %v, want ErrNotInstalled", err)
	}
	if !strings.Contains(err.Error(), "apt-get install gearman-job-server") {
		t.Fatalf("error lacks install hint: %v", err)
	}
	t.Logf("error, as expected: %v", err)
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if p, err := Start(ctx, Options{}); err == nil {
		p.Stop()
		t.Fatal("Start with a cancelled context succeeded")
	} else if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

func TestTailFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := range 20000 { // > one 64 KiB block
		fmt.Fprintf(&b, "line %d\n", i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, ""},
		{1, "line 19999"},
		{3, "line 19997\nline 19998\nline 19999"},
	} {
		got, err := tailFile(path, tc.n)
		if err != nil || got != tc.want {
			t.Errorf("tailFile(%d) = %q, %v; want %q", tc.n, got, err, tc.want)
		}
	}
	got, err := tailFile(path, 15000)
	if err != nil || strings.Count(got, "\n") != 14999 || !strings.HasPrefix(got, "line 5000\n") {
		t.Errorf("tailFile(15000): %d lines starting %.12q, %v", strings.Count(got, "\n")+1, got, err)
	}
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, []byte("a\nb"), 0o644) // no trailing newline
	if got, _ := tailFile(short, 5); got != "a\nb" {
		t.Errorf("tailFile(short, 5) = %q", got)
	}
}
