// Package gearmand runs a real gearmand job server as a child process, for
// local clusters, demos, benchmarks and tests.
//
// The server always listens on 127.0.0.1 only, in the foreground (never
// --daemon), so that this package owns its whole lifetime: Start waits until
// the server answers the admin "version" command, and Stop, Kill and Restart
// act on exactly the process that was started. The child runs in its own
// process group and is killed by the kernel if the Go program dies, so a
// crashed test binary does not leave servers running.
//
// The package needs the gearmand binary from the Debian package
// gearman-job-server; when it is missing Start returns an error wrapping
// ErrNotInstalled. It is Linux-only: readiness checks read /proc to make sure
// the port is held by our own child, and the child uses Pdeathsig.
package gearmand

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrNotInstalled is wrapped by the error Start returns when no gearmand
// binary can be found.
var ErrNotInstalled = errors.New("gearmand not found: install the Debian package gearman-job-server (apt-get install gearman-job-server)")

// errPortInUse reports that another process is listening on the port the
// child was told to use.
var errPortInUse = errors.New("port is in use by another process")

const (
	// readyTimeout bounds how long Start and Restart wait for the server
	// when the context has no earlier deadline.
	readyTimeout = 10 * time.Second
	// pollInterval is how often readiness is polled.
	pollInterval = 10 * time.Millisecond
	// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
	stopGrace = 5 * time.Second
	// portAttempts is how many free ports Start tries when Options.Port is 0.
	portAttempts = 5
	// errorLogLines is how much of the log goes into startup errors.
	errorLogLines = 30
)

// defaultBinaries are tried, in order, after a PATH lookup fails: non-root
// users often lack /usr/sbin in PATH. A variable so tests can clear it.
var defaultBinaries = []string{"/usr/sbin/gearmand"}

// Options for Start. The zero value is fine.
type Options struct {
	// Port to listen on. 0 picks a free loopback port, retrying with
	// another one if the chosen port is taken before gearmand binds it.
	Port int
	// Args are extra gearmand flags, e.g. "--job-retries=3", "--threads=2".
	// --listen, --port, --log-file and --daemon are managed by this package
	// and rejected. --verbose, --pid-file and --config-file replace the
	// package defaults when given.
	Args []string
	// LogFile is where gearmand logs (its stdout and stderr go there too).
	// "" creates a temp file that is kept after Stop; see Process.Log.
	LogFile string
	// Binary is the gearmand executable. "" looks up "gearmand" in PATH,
	// then /usr/sbin/gearmand.
	Binary string
}

// Process is a running (or stopped) gearmand. Its methods are safe for
// concurrent use.
type Process struct {
	binary  string
	args    []string // opts.Args, copied
	port    int
	logPath string
	pidPath string // our own pid file, so parallel servers don't share /var/gearmand.pid

	// life serialises Stop, Kill and Restart so that a restart never races
	// with a stop. Kill only takes it after signalling, so it is immediate.
	life sync.Mutex
	cur  atomic.Pointer[child]
}

// child is one run of the gearmand binary.
type child struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has been reaped
	waitErr error         // valid after done is closed
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Start starts gearmand on 127.0.0.1 and waits until it answers the admin
// "version" command, for at most 10s or until ctx is done. The context only
// bounds startup; cancelling it later does not stop the server.
func Start(ctx context.Context, opts Options) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gearmand: start: %w", err)
	}
	bin, err := findBinary(opts.Binary)
	if err != nil {
		return nil, err
	}
	if err := checkArgs(opts.Args); err != nil {
		return nil, err
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("gearmand: invalid port %d", opts.Port)
	}
	logPath := opts.LogFile
	if logPath == "" {
		f, err := os.CreateTemp("", "gearmand-*.log")
		if err != nil {
			return nil, fmt.Errorf("gearmand: create log file: %w", err)
		}
		logPath = f.Name()
		f.Close()
	}
	if logPath, err = filepath.Abs(logPath); err != nil {
		return nil, fmt.Errorf("gearmand: log file path: %w", err)
	}
	pid, err := os.CreateTemp("", "gearmand-*.pid")
	if err != nil {
		return nil, fmt.Errorf("gearmand: create pid file: %w", err)
	}
	pid.Close()

	p := &Process{
		binary:  bin,
		args:    append([]string(nil), opts.Args...),
		logPath: logPath,
		pidPath: pid.Name(),
	}
	p.life.Lock()
	defer p.life.Unlock()

	if opts.Port != 0 {
		p.port = opts.Port
		if err := p.startLocked(ctx, false); err != nil {
			os.Remove(p.pidPath)
			return nil, err
		}
		return p, nil
	}
	// The free port is released before gearmand binds it, so another process
	// may grab it in between; gearmand would then retry bind() for ~20s
	// before giving up, so detect that and move on to another port instead.
	for attempt := 1; ; attempt++ {
		if p.port, err = pickPort(); err != nil {
			os.Remove(p.pidPath)
			return nil, err
		}
		err = p.startLocked(ctx, true)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, errPortInUse) || attempt == portAttempts || ctx.Err() != nil {
			os.Remove(p.pidPath)
			return nil, err
		}
	}
}

// Addr returns the server address, "127.0.0.1:PORT".
func (p *Process) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port))
}

// Port returns the TCP port the server listens on. It does not change across
// Restart.
func (p *Process) Port() int { return p.port }

// Pid returns the process id of the running gearmand, or 0 if it has exited.
func (p *Process) Pid() int {
	c := p.cur.Load()
	if c == nil || c.exited() {
		return 0
	}
	return c.cmd.Process.Pid
}

// Log returns the path of the log file. It survives Stop and Restart
// (gearmand appends to it).
func (p *Process) Log() string { return p.logPath }

// LogTail returns the last n lines of the log, or a note saying why it could
// not be read.
func (p *Process) LogTail(n int) string {
	s, err := tailFile(p.logPath, n)
	if err != nil {
		return fmt.Sprintf("(cannot read gearmand log: %v)", err)
	}
	return s
}

// Stop sends SIGTERM, waits up to 5s for gearmand to exit, then sends
// SIGKILL. It is a no-op if the server is not running, and is safe to call
// more than once and concurrently.
func (p *Process) Stop() error {
	p.life.Lock()
	defer p.life.Unlock()
	return p.stopLocked()
}

// Kill sends SIGKILL at once and waits until the process is reaped. It is a
// no-op if the server is not running.
func (p *Process) Kill() error {
	// Signal before taking the lock so that Kill is not held up behind a
	// Stop that is waiting out its grace period.
	if c := p.cur.Load(); c != nil && !c.exited() {
		if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("gearmand: kill pid %d: %w", c.cmd.Process.Pid, err)
		}
	}
	p.life.Lock()
	defer p.life.Unlock()
	return p.killLocked()
}

// Restart stops the server if it is running and starts it again on the same
// port with the same arguments, waiting until it answers (at most 10s or
// until ctx is done). Jobs queued in memory are lost, as with a real restart.
func (p *Process) Restart(ctx context.Context) error {
	p.life.Lock()
	defer p.life.Unlock()
	if err := p.stopLocked(); err != nil {
		return err
	}
	return p.startLocked(ctx, false)
}

func (p *Process) stopLocked() error {
	c := p.cur.Load()
	if c == nil || c.exited() {
		return nil
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("gearmand: send SIGTERM to pid %d: %w", c.cmd.Process.Pid, err)
	}
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-c.done:
		return nil
	case <-t.C:
		// gearmand ignores SIGTERM while it is still retrying bind(), and
		// may hang on shutdown; it is stopped either way.
		return p.killLocked()
	}
}

func (p *Process) killLocked() error {
	c := p.cur.Load()
	if c == nil {
		return nil
	}
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("gearmand: kill pid %d: %w", c.cmd.Process.Pid, err)
	}
	<-c.done
	return nil
}

// startLocked starts gearmand on p.port and waits until it is ready. With
// failFastOnConflict, another process listening on the port is an immediate
// errPortInUse; otherwise Start/Restart keep waiting in case the port is
// freed (gearmand itself retries bind() for a while).
func (p *Process) startLocked(ctx context.Context, failFastOnConflict bool) error {
	logf, err := os.OpenFile(p.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("gearmand: open log file: %w", err)
	}
	// Option errors (e.g. a repeated flag) go to stderr, not to --log-file,
	// so send stdout and stderr to the log as well. Both append, so lines
	// from the two writers do not overwrite each other.
	cmd := exec.Command(p.binary, p.cmdArgs()...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Own process group: a Ctrl-C meant for `go test` does not reach
		// the server directly; we stop it ourselves.
		Setpgid: true,
		// If this program dies, the kernel kills gearmand. (Linux sends it
		// when the OS thread that forked exits; the Go runtime only retires
		// threads of goroutines that exit while locked to their thread.)
		Pdeathsig: syscall.SIGKILL,
	}
	err = cmd.Start()
	logf.Close() // the child has its own copy
	if err != nil {
		return fmt.Errorf("gearmand: start %s: %w", p.binary, err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		// gearmand removes its pid file only on a clean exit. Removing it
		// before close(done) keeps this from racing with a Restart.
		os.Remove(p.pidPath)
		close(c.done)
	}()
	p.cur.Store(c)

	if err := p.waitReady(ctx, c, failFastOnConflict); err != nil {
		p.killLocked()
		return fmt.Errorf("%w\n--- last lines of %s ---\n%s", err, p.logPath, p.LogTail(errorLogLines))
	}
	return nil
}

func (p *Process) cmdArgs() []string {
	given := map[string]bool{}
	for _, a := range p.args {
		if name := flagName(a); name != "" {
			given[name] = true
		}
	}
	args := []string{
		"--listen=127.0.0.1",
		"--port=" + strconv.Itoa(p.port),
		"--log-file=" + p.logPath,
	}
	// gearmand rejects a flag given twice, so only add defaults the caller
	// did not set.
	if !given["verbose"] {
		args = append(args, "--verbose=INFO")
	}
	if !given["pid-file"] {
		// The default /var/gearmand.pid would be shared by all servers and
		// is deleted by whichever exits first.
		args = append(args, "--pid-file="+p.pidPath)
	}
	if !given["config-file"] {
		// Ignore a system-wide /etc/gearmand.conf: its options could clash
		// with ours (duplicates are fatal) or listen elsewhere.
		args = append(args, "--config-file="+os.DevNull)
	}
	return append(args, p.args...)
}

// waitReady polls until our child holds a listening socket on p.port and
// answers "version". A "version" answer alone is not enough: after a port
// race it could come from another gearmand holding the same port.
func (p *Process) waitReady(ctx context.Context, c *child, failFastOnConflict bool) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	conflict := false
	for {
		select {
		case <-c.done:
			return fmt.Errorf("gearmand exited before it was ready on %s: %w", p.Addr(), exitError(c.waitErr))
		default:
		}
		ours, others, err := listeners(p.port, c.cmd.Process.Pid)
		if err != nil {
			return fmt.Errorf("gearmand: check listener on %s: %w", p.Addr(), err)
		}
		switch {
		case ours:
			err := probe(ctx, p.Addr())
			if err == nil {
				return nil
			}
			if ctx.Err() != nil {
				return fmt.Errorf("gearmand on %s did not answer \"version\": %w (%w)", p.Addr(), ctx.Err(), err)
			}
		case others:
			if failFastOnConflict {
				return fmt.Errorf("gearmand: port %d: %w", p.port, errPortInUse)
			}
			conflict = true
		}
		select {
		case <-c.done:
			return fmt.Errorf("gearmand exited before it was ready on %s: %w", p.Addr(), exitError(c.waitErr))
		case <-ctx.Done():
			if conflict {
				return fmt.Errorf("gearmand: port %d: %w (%w)", p.port, errPortInUse, ctx.Err())
			}
			return fmt.Errorf("gearmand not ready on %s: %w", p.Addr(), ctx.Err())
		case <-tick.C:
		}
	}
}

func exitError(err error) error {
	if err == nil {
		return errors.New("exit status 0")
	}
	return err
}

// probe sends the admin text command "version" and reads one line back.
func probe(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, "version\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "OK") {
		return fmt.Errorf("unexpected answer to \"version\": %q", line)
	}
	return nil
}

// listeners reports whether pid holds a TCP socket listening on port at an
// address that clashes with 127.0.0.1, and whether some other process does.
func listeners(port, pid int) (ours, others bool, err error) {
	inodes := map[string]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := listenInodes(file, port, inodes); err != nil {
			if errors.Is(err, fs.ErrNotExist) && file == "/proc/net/tcp6" {
				continue // IPv6 disabled
			}
			return false, false, err
		}
	}
	if len(inodes) == 0 {
		return false, false, nil
	}
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		// The child just exited; the caller notices via its done channel.
		return false, false, nil
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
		if err != nil {
			continue
		}
		if ino, ok := strings.CutPrefix(target, "socket:["); ok && inodes[strings.TrimSuffix(ino, "]")] {
			return true, false, nil
		}
	}
	return false, true, nil
}

// Local addresses (as in /proc/net/tcp{,6}) whose listeners clash with a bind
// to 127.0.0.1: the address itself and the wildcards.
var clashingAddrs = map[string]bool{
	"0100007F":                         true, // 127.0.0.1
	"00000000":                         true, // 0.0.0.0
	"00000000000000000000000000000000": true, // ::
	"0000000000000000FFFF00000100007F": true, // ::ffff:127.0.0.1
}

// listenInodes adds the socket inodes of listeners on port from a
// /proc/net/tcp-format file to inodes.
func listenInodes(file string, port int, inodes map[string]bool) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	wantPort := fmt.Sprintf("%04X", port)
	for _, line := range bytes.Split(data, []byte("\n"))[1:] {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		f := strings.Fields(string(line))
		if len(f) < 10 || f[3] != "0A" { // 0A = TCP_LISTEN
			continue
		}
		addr, lport, ok := strings.Cut(f[1], ":")
		if ok && lport == wantPort && clashingAddrs[addr] {
			inodes[f[9]] = true
		}
	}
	return nil
}

// Flags this package manages itself, by long name; short forms map to them.
var (
	managedFlags = map[string]bool{"listen": true, "port": true, "log-file": true, "daemon": true}
	shortFlags   = map[byte]string{'L': "listen", 'p': "port", 'l': "log-file", 'd': "daemon", 'P': "pid-file"}
)

// flagName returns the long name of a gearmand flag argument, or "" if arg is
// not a flag this package cares about.
func flagName(arg string) string {
	if rest, ok := strings.CutPrefix(arg, "--"); ok {
		name, _, _ := strings.Cut(rest, "=")
		return name
	}
	if len(arg) >= 2 && arg[0] == '-' {
		return shortFlags[arg[1]]
	}
	return ""
}

func checkArgs(args []string) error {
	for _, a := range args {
		if name := flagName(a); managedFlags[name] {
			return fmt.Errorf("gearmand: flag %q is managed by package gearmand; use Options instead", a)
		}
	}
	return nil
}

func findBinary(bin string) (string, error) {
	if bin != "" {
		path, err := exec.LookPath(bin)
		if err != nil {
			return "", fmt.Errorf("gearmand binary %q: %w", bin, err)
		}
		return path, nil
	}
	if path, err := exec.LookPath("gearmand"); err == nil {
		return path, nil
	}
	for _, path := range defaultBinaries {
		if _, err := exec.LookPath(path); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("%w (looked in PATH and %s)", ErrNotInstalled, strings.Join(defaultBinaries, ", "))
}

// pickPort is freePort; a variable so tests can simulate a lost port race.
var pickPort = freePort

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("gearmand: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailFile returns the last n lines of a file, reading it from the end so
// that big logs (INFO logs every connection) stay cheap.
func tailFile(path string, n int) (string, error) {
	if n <= 0 {
		return "", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return "", err
	}
	const block = 64 << 10
	var buf []byte
	off := size
	for off > 0 {
		step := min(int64(block), off)
		off -= step
		chunk := make([]byte, step)
		if _, err := f.ReadAt(chunk, off); err != nil {
			return "", err
		}
		buf = append(chunk, buf...)
		// n+1 newlines guarantee n complete lines (the last may lack one).
		if bytes.Count(buf, []byte("\n")) > n {
			break
		}
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n"), nil
}
