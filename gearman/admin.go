package gearman

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
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
	addr        string
	dialTimeout time.Duration
	timeout     time.Duration // bounds each command's reply

	sem chan struct{} // capacity 1; held for a whole command/reply exchange

	mu     sync.Mutex // guards conn, rd and closed
	conn   net.Conn
	rd     *bufio.Reader
	closed bool
}

// FunctionStatus is one line of the "status" reply.
type FunctionStatus struct {
	Name    string // function name
	Queued  int    // jobs the server holds for the function, including running ones
	Running int    // jobs currently assigned to a worker
	Workers int    // connected workers that registered the function
}

// FunctionPriorityStatus is one line of the "prioritystatus" reply.
type FunctionPriorityStatus struct {
	Name    string // function name
	High    int    // jobs waiting for a worker at high priority
	Normal  int    // jobs waiting for a worker at normal priority
	Low     int    // jobs waiting for a worker at low priority
	Workers int    // connected workers that registered the function
}

// WorkerInfo is one line of the "workers" reply. The server lists every
// connection, so clients and admin connections appear with no Functions.
type WorkerInfo struct {
	FD        int    // file descriptor of the connection in the server
	Addr      string // peer IP address, without port
	ClientID  string // id set with SET_CLIENT_ID; "" if none (the server shows "-")
	Functions []string
}

// AdminJob is one line of the "show jobs" reply.
type AdminJob struct {
	Handle  string
	Retries int // times the job was handed out again after its worker went away
	// Ignored means the server will drop the job instead of running it:
	// it was cancelled, or it was a foreground job whose client left.
	Ignored bool
	// Persistent means the job is recorded in the server's persistent
	// queue: true for background jobs until they are cancelled or done.
	Persistent bool
}

// AdminUniqueJob is one line of the "show unique jobs" reply.
type AdminUniqueJob struct {
	Unique string
	// Handle is empty with gearmand 1.1.20, which lists unique ids only;
	// later versions add the job handle.
	Handle string
}

// AdminError is an "ERR" reply from the job server. Codes sent by gearmand
// 1.1.20 include UNKNOWN_COMMAND, INVALID_ARGUMENTS, UNKNOWN_JOB,
// UNKNOWN_SHOW_ARGUMENTS, CREATE_FUNCTION and UNKNOWN_ERROR.
type AdminError struct {
	Command string // the command line that was sent, without its line end
	// Code is the word after "ERR", or "" when the server sent free text
	// (as gearmand's "ERR function not found" does).
	Code string
	// Message is the rest of the line, URL-decoded when it came with a Code
	// ("Unknown+server+command" becomes "Unknown server command").
	Message string
}

// Error formats the reply with the command it answered.
func (e *AdminError) Error() string {
	switch {
	case e.Code == "":
		return fmt.Sprintf("gearman: admin %q: %s", e.Command, e.Message)
	case e.Message == "":
		return fmt.Sprintf("gearman: admin %q: %s", e.Command, e.Code)
	default:
		return fmt.Sprintf("gearman: admin %q: %s: %s", e.Command, e.Code, e.Message)
	}
}

// adminMaxLine bounds one reply line; a longer one breaks the connection.
const adminMaxLine = 1 << 20

var adminErrClosed = fmt.Errorf("admin closed: %w", net.ErrClosed)

// DialAdmin connects to the job server at addr ("host:port"). ctx bounds the
// connection attempt only. Should the connection break later, the next call
// dials again. Of the options, it uses WithDialTimeout and
// WithRequestTimeout.
func DialAdmin(ctx context.Context, addr string, opts ...Option) (*Admin, error) {
	o := buildOptions(opts)
	a := &Admin{addr: addr, dialTimeout: o.dialTimeout, timeout: o.requestTimeout, sem: make(chan struct{}, 1)}
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

// adminCheckArg rejects what would split or end the command line. gearmand
// separates arguments with spaces only, so a tab is allowed.
func adminCheckArg(cmd, what, s string) error {
	if s == "" {
		return fmt.Errorf("gearman: admin %s: empty %s", cmd, what)
	}
	if strings.ContainsAny(s, " \r\n\x00") {
		return fmt.Errorf("gearman: admin %s: %s %q contains a space, line break or NUL", cmd, what, s)
	}
	return nil
}

func adminMalformed(cmd, line string) error {
	return fmt.Errorf("gearman: admin %q: malformed reply line %q", cmd, line)
}

// adminOK runs a command whose success reply is a bare "OK".
func (a *Admin) adminOK(ctx context.Context, cmd string) error {
	return a.adminOneLine(ctx, cmd, func(l string) bool { return strings.TrimSpace(l) == "OK" })
}

// adminOneLine runs cmd, whose reply is one line, and hands the line to
// parse, which reports whether it made sense.
func (a *Admin) adminOneLine(ctx context.Context, cmd string, parse func(line string) bool) error {
	_, err := a.adminDo(ctx, cmd, false, parse)
	return err
}

// adminDo sends cmd and reads its reply: one line, or (multi) lines up to a
// line ".", which is not returned. An ERR reply becomes an *AdminError. If
// parse is given, it checks a one-line reply while the connection is still
// ours: a line it rejects may be the start of some reply we do not know, so
// the connection is dropped rather than left out of step.
func (a *Admin) adminDo(ctx context.Context, cmd string, multi bool, parse func(line string) bool) (lines []string, err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gearman: admin %q: %w", cmd, err)
	}
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("gearman: admin %q: %w", cmd, ctx.Err())
	}
	defer func() { <-a.sem }()

	c, rd, err := a.adminConn(ctx)
	if err != nil {
		return nil, fmt.Errorf("gearman: admin %q: %w", cmd, err)
	}
	deadline := time.Now().Add(a.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.SetDeadline(deadline); err != nil {
		a.adminDiscard(c)
		return nil, fmt.Errorf("gearman: admin %q: %w", cmd, a.adminCause(err))
	}
	// A deadline in the past wakes a blocked Read or Write at once.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })

	lines, errReply, ioErr := adminExchange(c, rd, cmd, multi)

	if !stop() {
		// ctx ended during the exchange: the AfterFunc may still be about
		// to move the deadline, and the reply may be half read.
		a.adminDiscard(c)
		if ioErr != nil {
			return nil, fmt.Errorf("gearman: admin %q: %w", cmd, ctx.Err())
		}
	}
	if ioErr != nil {
		a.adminDiscard(c)
		if errors.Is(ioErr, os.ErrDeadlineExceeded) && ctx.Err() == nil && !adminCtxDeadline(ctx, deadline) {
			return nil, a.adminCause(&TimeoutError{Server: a.addr, Waiting: fmt.Sprintf("reply to admin %q", cmd), After: a.timeout})
		}
		return nil, fmt.Errorf("gearman: admin %q: %w", cmd, a.adminCause(adminCtxCause(ctx, ioErr)))
	}
	if errReply != nil {
		return nil, errReply // a whole line, so the connection is still in step
	}
	if !multi && parse != nil && !parse(lines[0]) {
		a.adminDiscard(c)
		return nil, adminMalformed(cmd, lines[0])
	}
	return lines, nil
}

// adminExchange writes cmd and reads the reply: its lines, or an ERR reply,
// or else ioErr for a connection that failed.
func adminExchange(c net.Conn, rd *bufio.Reader, cmd string, multi bool) (lines []string, errReply *AdminError, ioErr error) {
	// gearmand strips an optional "\r" before "\n", but "create function"
	// only gets the name right when the line ends in "\r\n": it trims two
	// bytes off the last argument, which holds the line end.
	if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
		return nil, nil, err
	}
	first := true
	for {
		l, err := adminReadLine(rd)
		if err != nil {
			return nil, nil, err
		}
		// Data lines of the multi-line replies hold tabs; "ERR" lines don't.
		if first && (l == "ERR" || strings.HasPrefix(l, "ERR ")) && !strings.Contains(l, "\t") {
			return nil, adminParseErr(cmd, l), nil
		}
		first = false
		if !multi {
			return []string{l}, nil, nil
		}
		if l == "." {
			return lines, nil, nil
		}
		lines = append(lines, l)
	}
}

// adminReadLine reads one line without its "\n" or "\r\n".
func adminReadLine(rd *bufio.Reader) (string, error) {
	var buf []byte
	for {
		frag, err := rd.ReadSlice('\n')
		if len(buf)+len(frag) > adminMaxLine {
			return "", fmt.Errorf("reply line longer than %d bytes", adminMaxLine)
		}
		buf = append(buf, frag...)
		switch {
		case err == nil:
			s := strings.TrimSuffix(string(buf[:len(buf)-1]), "\r")
			return s, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(buf) > 0 {
				return "", fmt.Errorf("server closed the connection mid-line: %w", io.ErrUnexpectedEOF)
			}
			return "", fmt.Errorf("server closed the connection: %w", io.ErrUnexpectedEOF)
		default:
			return "", err
		}
	}
}

// adminParseErr turns "ERR CODE Url+encoded+text" into an *AdminError.
func adminParseErr(cmd, line string) *AdminError {
	rest := strings.TrimSpace(strings.TrimPrefix(line, "ERR"))
	word, msg, _ := strings.Cut(rest, " ")
	if !adminIsCode(word) {
		return &AdminError{Command: cmd, Message: rest}
	}
	if m, err := url.QueryUnescape(msg); err == nil {
		msg = m
	}
	return &AdminError{Command: cmd, Code: word, Message: msg}
}

// adminIsCode reports whether s looks like an error code: UPPER_CASE_1.
func adminIsCode(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// adminSplitCounts splits "NAME\tN1\t...\tNn" into NAME and n counts. The
// counts are taken from the right so that NAME may itself hold tabs.
func adminSplitCounts(line string, n int) (string, []int, bool) {
	f := strings.Split(line, "\t")
	if len(f) < n+1 {
		return "", nil, false
	}
	counts := make([]int, n)
	for i, s := range f[len(f)-n:] {
		v, err := strconv.Atoi(s)
		if err != nil || !adminIsDigits(s) {
			return "", nil, false
		}
		counts[i] = v
	}
	return strings.Join(f[:len(f)-n], "\t"), counts, true
}

func adminIsDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// adminParseWorker parses "FD ADDR CLIENT-ID : FUNC FUNC ...". gearmand
// prints a single space before each function, and an empty client id
// as nothing at all ("12 127.0.0.1  : f").
func adminParseWorker(line string) (WorkerInfo, bool) {
	fdStr, rest, ok := strings.Cut(line, " ")
	if !ok {
		return WorkerInfo{}, false
	}
	// gearmand shows -1 for a connection it is tearing down; no other
	// negative number is a file descriptor.
	fd, err := strconv.Atoi(fdStr)
	if err != nil || !adminIsDigits(strings.TrimPrefix(fdStr, "-")) || fd < -1 {
		return WorkerInfo{}, false
	}
	addr, rest, ok := strings.Cut(rest, " ")
	if !ok || addr == "" {
		return WorkerInfo{}, false
	}
	// The client id ends at the first " :" that ends the line or is
	// followed by a space.
	i := 0
	for {
		j := strings.Index(rest[i:], " :")
		if j < 0 {
			return WorkerInfo{}, false
		}
		i += j
		if i+2 == len(rest) || rest[i+2] == ' ' {
			break
		}
		i++
	}
	id := rest[:i]
	if id == "-" {
		id = ""
	}
	return WorkerInfo{FD: fd, Addr: addr, ClientID: id, Functions: strings.Fields(rest[i+2:])}, true
}

// adminConn returns the connection, dialing a new one if the last broke.
// The caller holds a.sem, so at most one dial runs at a time.
func (a *Admin) adminConn(ctx context.Context) (net.Conn, *bufio.Reader, error) {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, nil, adminErrClosed
	}
	if a.conn != nil {
		c, rd := a.conn, a.rd
		a.mu.Unlock()
		return c, rd, nil
	}
	a.mu.Unlock()

	c, err := a.adminDial(ctx)
	if err != nil {
		return nil, nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed { // Close ran while we dialed
		c.Close()
		return nil, nil, adminErrClosed
	}
	a.conn, a.rd = c, a.newReader(c)
	return a.conn, a.rd, nil
}

func (a *Admin) adminDial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: a.dialTimeout}
	return d.DialContext(ctx, "tcp", a.addr)
}

// newReader reads replies from c, failing at the first NUL byte.
func (a *Admin) newReader(c net.Conn) *bufio.Reader {
	return bufio.NewReader(&adminTextReader{r: c, addr: a.addr})
}

// adminTextReader fails a read that brings a NUL byte: no admin reply holds
// one (function names cannot), while a Gearman binary packet or a ZeroMQ
// greeting starts with some. So a peer that is no admin port is found as
// soon as it speaks, not when the request timeout runs out.
type adminTextReader struct {
	r    io.Reader
	addr string
}

func (t *adminTextReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if i := bytes.IndexByte(p[:n], 0); i >= 0 {
		return n, fmt.Errorf("%w: %s sent a NUL byte (%q), which no admin reply holds: not a Gearman admin port",
			ErrProtocol, t.addr, p[:min(n, 10)])
	}
	return n, err
}

// adminCtxDeadline says whether deadline is ctx's own, so that its passing
// is ctx's timeout rather than the request timeout.
func adminCtxDeadline(ctx context.Context, deadline time.Time) bool {
	d, ok := ctx.Deadline()
	return ok && d.Equal(deadline)
}

// adminDiscard closes c and forgets it if it is still the current conn.
func (a *Admin) adminDiscard(c net.Conn) {
	a.mu.Lock()
	if a.conn == c {
		a.conn, a.rd = nil, nil
	}
	a.mu.Unlock()
	c.Close()
}

// adminCause reports a failure caused by Close as such.
func (a *Admin) adminCause(err error) error {
	a.mu.Lock()
	closed := a.closed
	a.mu.Unlock()
	if closed {
		return adminErrClosed
	}
	return err
}

// adminCtxCause makes a timeout of the conn deadline, which was set from
// ctx, wrap context.DeadlineExceeded even if ctx has not noticed yet.
func adminCtxCause(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if _, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return err
}
