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
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
//
// Its files, by concern: this one (options, start), options.go (the
// binary and its command line), ready.go (readiness: our child listens and
// answers "version"), stop.go (Stop, Kill, Restart) and log.go.
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
	p, err := newProcess(opts)
	if err != nil {
		return nil, err
	}
	p.life.Lock()
	defer p.life.Unlock()
	if opts.Port != 0 {
		p.port = opts.Port
		err = p.startLocked(ctx, false)
	} else {
		err = p.startOnFreePortLocked(ctx)
	}
	if err != nil {
		os.Remove(p.pidPath)
		return nil, err
	}
	return p, nil
}

// newProcess checks opts and returns the Process they describe, not yet
// started, with its log file and its own pid file.
func newProcess(opts Options) (*Process, error) {
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
	logPath, err := logFilePath(opts.LogFile)
	if err != nil {
		return nil, err
	}
	pid, err := os.CreateTemp("", "gearmand-*.pid")
	if err != nil {
		return nil, fmt.Errorf("gearmand: create pid file: %w", err)
	}
	pid.Close()
	return &Process{
		binary:  bin,
		args:    append([]string(nil), opts.Args...),
		logPath: logPath,
		pidPath: pid.Name(),
	}, nil
}

// logFilePath returns the absolute path of the log file: logFile, or a
// new temp file if it is "".
func logFilePath(logFile string) (string, error) {
	logPath := logFile
	if logPath == "" {
		f, err := os.CreateTemp("", "gearmand-*.log")
		if err != nil {
			return "", fmt.Errorf("gearmand: create log file: %w", err)
		}
		logPath = f.Name()
		f.Close()
	}
	logPath, err := filepath.Abs(logPath)
	if err != nil {
		return "", fmt.Errorf("gearmand: log file path: %w", err)
	}
	return logPath, nil
}

// startOnFreePortLocked starts gearmand on a free port, trying another
// one when the port was taken before gearmand bound it. The free port is
// released before gearmand binds it, so another process may grab it in
// between; gearmand would then retry bind() for ~20s before giving up, so
// detect that and move on to another port instead.
func (p *Process) startOnFreePortLocked(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		var err error
		if p.port, err = pickPort(); err != nil {
			return err
		}
		err = p.startLocked(ctx, true)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errPortInUse) || attempt == portAttempts || ctx.Err() != nil {
			return err
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
