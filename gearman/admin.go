package gearman

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Admin talks the administrative text protocol ("status", "workers",
// "maxqueue", ...) to one job server.
//
// Create one with DialAdmin. An Admin is safe for concurrent use. It keeps
// one connection and runs one command at a time on it: the text protocol
// has no request ids, so the only way to pair a reply with its command is
// to have a single command outstanding. One long-lived connection makes
// calls cheap (no TCP handshake each time) and shows up as a single entry in
// the server's "workers" list, instead of one short-lived connection per
// call. Callers waiting for their turn still honour their context.
//
// Each command's reply is bounded by the request timeout (WithRequestTimeout,
// default 10s) as well as by the caller's context: a server that accepts
// and never answers gives a *TimeoutError. A reply holding a NUL byte,
// which no admin reply does, fails at once with ErrProtocol: the peer is
// not a Gearman job server's admin port (a ZeroMQ port, say).
//
// When an exchange is cut short (context done, I/O error, malformed reply),
// unread reply bytes may still be on their way, and they would be taken as
// the answer to the next command; so the connection is closed and the next
// call dials a new one.
type Admin struct {
	addr    string
	dial    dialOptions
	timeout time.Duration // bounds each command's reply

	sem chan struct{} // capacity 1; held for a whole command/reply exchange

	mu     sync.Mutex // guards conn, rd and closed
	conn   net.Conn
	rd     *bufio.Reader
	closed bool
}

// DialAdmin connects to the job server at addr ("host:port"). ctx bounds the
// connection attempt only. Should the connection break later, the next call
// dials again. Its options are WithDialTimeout, WithTLS and
// WithRequestTimeout.
func DialAdmin(ctx context.Context, addr string, opts ...AdminOption) (*Admin, error) {
	o := newAdminOptions(opts)
	a := &Admin{addr: addr, dial: o.dialOptions, timeout: o.requestTimeout, sem: make(chan struct{}, 1)}
	c, err := a.adminDial(ctx)
	if err != nil {
		return nil, fmt.Errorf("gearman: admin: %w", err)
	}
	a.conn, a.rd = c, a.newReader(c)
	return a, nil
}

// Close closes the connection, aborting a command in flight. Calls made
// after Close fail with an error wrapping net.ErrClosed. Closing twice is
// harmless.
func (a *Admin) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	c := a.conn
	a.conn, a.rd = nil, nil
	if c == nil {
		return nil
	}
	return c.Close()
}

// Status runs "status": for each function the server knows, its queued and
// running job counts and its available workers. The order is the server's.
// Functions stay listed after their last worker left and their queue emptied.
func (a *Admin) Status(ctx context.Context) ([]FunctionStatus, error) {
	const cmd = "status"
	lines, err := a.adminDo(ctx, cmd, true, nil)
	if err != nil {
		return nil, err
	}
	out := make([]FunctionStatus, 0, len(lines))
	for _, l := range lines {
		name, n, ok := adminSplitCounts(l, 3)
		if !ok {
			return nil, adminMalformed(cmd, l)
		}
		out = append(out, FunctionStatus{Name: name, Queued: n[0], Running: n[1], Workers: n[2]})
	}
	return out, nil
}

// PriorityStatus runs "prioritystatus": for each function, the jobs waiting
// for a worker at each priority (running jobs are not counted) and its
// available workers.
func (a *Admin) PriorityStatus(ctx context.Context) ([]FunctionPriorityStatus, error) {
	const cmd = "prioritystatus"
	lines, err := a.adminDo(ctx, cmd, true, nil)
	if err != nil {
		return nil, err
	}
	out := make([]FunctionPriorityStatus, 0, len(lines))
	for _, l := range lines {
		name, n, ok := adminSplitCounts(l, 4)
		if !ok {
			return nil, adminMalformed(cmd, l)
		}
		out = append(out, FunctionPriorityStatus{Name: name, High: n[0], Normal: n[1], Low: n[2], Workers: n[3]})
	}
	return out, nil
}

// Workers runs "workers": every connection to the server (workers, clients
// and admin connections such as this one) with the functions it registered.
// A function name containing a space cannot be told apart from two names;
// it comes back split.
func (a *Admin) Workers(ctx context.Context) ([]WorkerInfo, error) {
	const cmd = "workers"
	lines, err := a.adminDo(ctx, cmd, true, nil)
	if err != nil {
		return nil, err
	}
	out := make([]WorkerInfo, 0, len(lines))
	for _, l := range lines {
		w, ok := adminParseWorker(l)
		if !ok {
			return nil, adminMalformed(cmd, l)
		}
		out = append(out, w)
	}
	return out, nil
}

// Jobs runs "show jobs": every job the server holds, queued or running.
func (a *Admin) Jobs(ctx context.Context) ([]AdminJob, error) {
	const cmd = "show jobs"
	lines, err := a.adminDo(ctx, cmd, true, nil)
	if err != nil {
		return nil, err
	}
	out := make([]AdminJob, 0, len(lines))
	for _, l := range lines {
		handle, n, ok := adminSplitCounts(l, 3)
		if !ok || handle == "" || n[1] > 1 || n[2] > 1 {
			return nil, adminMalformed(cmd, l)
		}
		out = append(out, AdminJob{Handle: handle, Retries: n[0], Ignored: n[1] == 1, Persistent: n[2] == 1})
	}
	return out, nil
}

// UniqueJobs runs "show unique jobs": the unique id of every job the server
// holds (a random UUID when the client gave none). The protocol has no
// escapes: a unique id "." would end the reply early, and one starting with
// "ERR " as the first line would read as an error.
func (a *Admin) UniqueJobs(ctx context.Context) ([]AdminUniqueJob, error) {
	lines, err := a.adminDo(ctx, "show unique jobs", true, nil)
	if err != nil {
		return nil, err
	}
	out := make([]AdminUniqueJob, 0, len(lines))
	for _, l := range lines {
		var j AdminUniqueJob
		if i := strings.LastIndexByte(l, '\t'); i >= 0 {
			j.Unique, j.Handle = l[:i], l[i+1:]
		} else {
			j.Unique = l
		}
		out = append(out, j)
	}
	return out, nil
}

// Version runs "version" and returns the server's version, such as
// "1.1.20+ds".
func (a *Admin) Version(ctx context.Context) (string, error) {
	var v string
	err := a.adminOneLine(ctx, "version", func(l string) bool {
		// gearmand answers "OK VERSION"; old servers sent the bare version.
		v = strings.TrimSpace(strings.TrimPrefix(l, "OK "))
		return v != "" && v != "OK"
	})
	if err != nil {
		return "", err
	}
	return v, nil
}

// PID runs "getpid" and returns the server's process id.
func (a *Admin) PID(ctx context.Context) (int, error) {
	var pid int
	err := a.adminOneLine(ctx, "getpid", func(l string) bool {
		v, ok := strings.CutPrefix(l, "OK ")
		var err error
		pid, err = strconv.Atoi(strings.TrimSpace(v))
		return ok && err == nil && pid > 0
	})
	if err != nil {
		return 0, err
	}
	return pid, nil
}

// Verbose runs "verbose" and returns the server's log level name, such as
// "ERROR" or "INFO" (what gearmand's --verbose was given).
func (a *Admin) Verbose(ctx context.Context) (string, error) {
	var v string
	err := a.adminOneLine(ctx, "verbose", func(l string) bool {
		var ok bool
		v, ok = strings.CutPrefix(l, "OK ")
		v = strings.TrimSpace(v)
		return ok && v != ""
	})
	if err != nil {
		return "", err
	}
	return v, nil
}

// MaxQueue runs "maxqueue" to limit how many jobs the server accepts for
// function; a submission over the limit is refused with an ERROR packet
// ("Job queue is full"). A size of 0 means no limit.
//
//   - No sizes removes the limits.
//   - One size applies to every priority.
//   - Three sizes are the limits for high, normal and low priority jobs.
//
// gearmand compares each limit with the function's total job count, over
// all priorities and including running jobs: with sizes 0, 0, 1 and one
// normal job queued, a low priority job is refused.
//
// gearmand applies the limit only to a function it already knows (one that
// has had a job or a worker, or was made with CreateFunction); for any other
// name it answers OK and does nothing, so create the function first.
func (a *Admin) MaxQueue(ctx context.Context, function string, sizes ...int) error {
	if err := adminCheckArg("maxqueue", "function name", function); err != nil {
		return err
	}
	if n := len(sizes); n != 0 && n != 1 && n != 3 {
		return fmt.Errorf("gearman: admin maxqueue %s: got %d sizes, want 0, 1 or 3", function, n)
	}
	var b strings.Builder
	b.WriteString("maxqueue ")
	b.WriteString(function)
	for _, s := range sizes {
		if s < 0 {
			return fmt.Errorf("gearman: admin maxqueue %s: negative size %d", function, s)
		}
		if int64(s) > math.MaxInt32 { // gearmand reads it with atoi
			return fmt.Errorf("gearman: admin maxqueue %s: size %d is over %d", function, s, math.MaxInt32)
		}
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(s))
	}
	return a.adminOK(ctx, b.String())
}

// CancelJob runs "cancel job HANDLE". gearmand sends WORK_FAIL to clients
// waiting on the job and removes it from the persistent queue, but only
// marks it ignored: "status" still counts it and "show jobs" still lists it
// until a worker asks for work, when the server drops it without running it.
// A running job is not stopped. An unknown handle gives an *AdminError with
// Code "UNKNOWN_JOB".
func (a *Admin) CancelJob(ctx context.Context, handle string) error {
	if err := adminCheckArg("cancel job", "job handle", handle); err != nil {
		return err
	}
	return a.adminOK(ctx, "cancel job "+handle)
}

// CreateFunction runs "create function NAME", which makes the server know
// the function before any job or worker names it, so that MaxQueue can
// apply to it. Creating a known function succeeds and changes nothing.
func (a *Admin) CreateFunction(ctx context.Context, function string) error {
	if err := adminCheckArg("create function", "function name", function); err != nil {
		return err
	}
	return a.adminOK(ctx, "create function "+function)
}

// DropFunction runs "drop function NAME", which removes a function with no
// connected worker and no running job from the server's lists. Note that
// gearmand 1.1.20 drops it even when jobs are queued for it: those jobs stay
// in "show jobs" and are never run. An unknown function gives an
// *AdminError with Message "function not found".
func (a *Admin) DropFunction(ctx context.Context, function string) error {
	if err := adminCheckArg("drop function", "function name", function); err != nil {
		return err
	}
	return a.adminOK(ctx, "drop function "+function)
}
