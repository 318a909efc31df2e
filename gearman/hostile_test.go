package gearman_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// Hostile input: oversize jobs, bad names and unique ids, garbage sent to
// gearmand, and fake job servers that send garbage to workers and clients.
// Each must give a clear error and break nothing else.

// logRecorder is a slog.Handler that keeps every record, so tests can see
// what a Client or Worker reported.
type logRecorder struct {
	mu      sync.Mutex
	records []logRecord
}

type logRecord struct {
	level slog.Level
	msg   string
	err   error // the "err" attribute, if any
	attrs map[string]string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	lr := logRecord{level: rec.Level, msg: rec.Message, attrs: map[string]string{}}
	rec.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && a.Key == "err" {
			lr.err = err
		}
		lr.attrs[a.Key] = a.Value.String()
		return true
	})
	r.mu.Lock()
	r.records = append(r.records, lr)
	r.mu.Unlock()
	return nil
}

func (r *logRecorder) all() []logRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]logRecord(nil), r.records...)
}

// protocolErrors returns the records whose error wraps ErrProtocol.
func (r *logRecorder) protocolErrors() []logRecord {
	var out []logRecord
	for _, lr := range r.all() {
		if errors.Is(lr.err, gearman.ErrProtocol) {
			out = append(out, lr)
		}
	}
	return out
}

// waitFor polls the records until cond holds.
func (r *logRecorder) waitFor(t *testing.T, ctx context.Context, what string, cond func([]logRecord) bool) {
	t.Helper()
	for !cond(r.all()) {
		select {
		case <-ctx.Done():
			t.Fatalf("log never showed %s; records: %+v", what, r.all())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// fakeServer is a TCP listener on loopback playing a job server: serve
// runs for each accepted connection, numbered from 0.
type fakeServer struct {
	ln       net.Listener
	mu       sync.Mutex
	accepted []time.Time
	conns    []net.Conn
	wg       sync.WaitGroup
}

func startFakeServer(t *testing.T, serve func(n int, c net.Conn)) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			n := len(s.accepted)
			s.accepted = append(s.accepted, time.Now())
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				serve(n, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *fakeServer) addr() string { return s.ln.Addr().String() }

func (s *fakeServer) acceptTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.accepted...)
}

// sendGarbage writes b, half-closes so that a reader waiting for more
// sees the end, and reads until the peer hangs up: closing with its
// packets unread would reset the connection and could lose b.
func sendGarbage(c net.Conn, b []byte) {
	c.Write(b)
	c.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, c)
}

func packet(t *testing.T, m gearman.Magic, pt gearman.PacketType, args ...string) []byte {
	t.Helper()
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	b, err := gearman.AppendPacket(nil, m, pt, bs...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawHeader is a packet header with any magic, type and size.
func rawHeader(magic string, pt gearman.PacketType, size uint32) []byte {
	b := append([]byte(nil), magic...)
	b = binary.BigEndian.AppendUint32(b, uint32(pt))
	return binary.BigEndian.AppendUint32(b, size)
}

// randomBytes is n bytes from a fixed seed, so every run sends the same.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// minBackoffs is the least total wait a client or worker configured with
// WithBackoff(min, max) owes before its (n+1)th attempt after n failed
// connections in a row: the waits double from min up to max, less 1/8 of
// jitter.
func minBackoffs(n int, min, max time.Duration) time.Duration {
	var total time.Duration
	d := min
	for range n {
		total += d - d/8
		d = d * 2
		if d > max {
			d = max
		}
	}
	return total
}

// TestHostileOversizeSubmit: a job over the client's packet size limit is
// refused before anything is sent, with the size and the limit in the
// error, and the client goes on working.
func TestHostileOversizeSubmit(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	length := func(_ context.Context, j *gearman.Job) ([]byte, error) { return []byte(strconv.Itoa(len(j.Data))), nil }
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{"echo": echo, "len": length})
	c, err := gearman.NewClient(ctx, []string{srv.Addr()}, gearman.WithMaxPacketSize(1024))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := bytes.Repeat([]byte("x"), 2000)
	// "echo" NUL "" NUL data: 2006 bytes.
	wantSize := "2006 bytes is over the 1024-byte limit"
	check := func(what string, err error) {
		t.Helper()
		var tooLarge *gearman.PacketTooLargeError
		if !errors.As(err, &tooLarge) || tooLarge.Size != 2006 || tooLarge.Max != 1024 ||
			!strings.Contains(err.Error(), "submit") || !strings.Contains(err.Error(), "echo") || !strings.Contains(err.Error(), wantSize) {
			t.Fatalf("%s of a 2000-byte job with a 1024-byte limit: %v; want a *PacketTooLargeError naming echo and %q", what, err, wantSize)
		}
		if errors.Is(err, gearman.ErrProtocol) || errors.Is(err, gearman.ErrConnectionLost) {
			t.Fatalf("%s: %v: a refused submit is no protocol error and loses no connection", what, err)
		}
	}
	_, err = c.Call(ctx, "echo", data)
	check("Call", err)
	_, err = c.Submit(ctx, "echo", data, gearman.WithPriority(gearman.PriorityHigh))
	check("Submit", err)
	_, err = c.SubmitBackground(ctx, "echo", data)
	check("SubmitBackground", err)
	// Exactly at the limit is fine, and the client still works.
	atLimit := bytes.Repeat([]byte("y"), 1024-len("len")-2)
	if got, err := c.Call(ctx, "len", atLimit); err != nil || string(got) != strconv.Itoa(len(atLimit)) {
		t.Fatalf("a job of exactly 1024 bytes: %q, %v", got, err)
	}
	st := waitStatus(t, srv.Addr(), "echo", func(s gearman.FunctionStatus) bool { return s.Running == 0 })
	if st.Queued != 0 {
		t.Fatalf("refused jobs reached gearmand: %+v", st)
	}
}

var oversizeMessage = regexp.MustCompile(`^gearman: echo job (\S+) of (\d+) bytes is over this worker's 1024-byte packet size limit$`)

// TestHostileOversizeJobAtWorker: a job over the WORKER's packet size
// limit is failed with an exception that names it, its size and the limit;
// the worker keeps its connection (so the job is not handed to it again
// and again) and serves the jobs around it.
func TestHostileOversizeJobAtWorker(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	rec := &logRecorder{}
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{"echo": echo},
		gearman.WithMaxPacketSize(1024), gearman.WithConcurrency(2), gearman.WithLogger(slog.New(rec)))
	c := newClient(t, srv.Addr())

	// Several big and small jobs pipelined on the worker's connection.
	big := bytes.Repeat([]byte("B"), 4000)
	var bigTasks, smallTasks []*gearman.Task
	for i := range 6 {
		task, err := c.Submit(ctx, "echo", big, gearman.WithUnique(strings.Repeat("u", 60)+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		bigTasks = append(bigTasks, task)
		task, err = c.Submit(ctx, "echo", []byte("small "+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		smallTasks = append(smallTasks, task)
	}
	for i, task := range bigTasks {
		_, err := task.Wait(ctx)
		var ex *gearman.JobException
		if !errors.As(err, &ex) {
			t.Fatalf("big job %d: %v, want a *JobException", i, err)
		}
		m := oversizeMessage.FindStringSubmatch(string(ex.Data))
		if m == nil || m[1] != ex.Handle {
			t.Fatalf("big job %d: exception %q, want one matching %v for handle %s", i, ex.Data, oversizeMessage, ex.Handle)
		}
		// handle NUL "echo" NUL unique NUL data
		if size, _ := strconv.Atoi(m[2]); size != len(ex.Handle)+len("echo")+61+len(big)+3 {
			t.Fatalf("big job %d: size %d in %q", i, size, ex.Data)
		}
	}
	for i, task := range smallTasks {
		if got, err := task.Wait(ctx); err != nil || string(got) != "small "+strconv.Itoa(i) {
			t.Fatalf("small job %d beside the big ones: %q, %v", i, got, err)
		}
	}
	if got, err := c.Call(ctx, "echo", []byte("after")); err != nil || string(got) != "after" {
		t.Fatalf("job after the big ones: %q, %v", got, err)
	}
	waitStatus(t, srv.Addr(), "echo", func(s gearman.FunctionStatus) bool { return s.Queued == 0 && s.Running == 0 })
	warned := 0
	for _, lr := range rec.all() {
		if strings.Contains(lr.msg, "disconnected") || lr.err != nil {
			t.Errorf("worker log: %s %v: the big jobs must not cost the connection", lr.msg, lr.err)
		}
		if strings.Contains(lr.msg, "over the packet size limit") && lr.level == slog.LevelWarn && lr.attrs["limit"] == "1024" {
			warned++
		}
	}
	if warned != len(bigTasks) {
		t.Errorf("worker logged %d warnings about big jobs, want %d", warned, len(bigTasks))
	}
}

// TestHostileOversizeResultAtClient: a result or exception over the
// CLIENT's limit fails that task with an error that says so; a big
// WORK_DATA is dropped; the connection and the other tasks go on.
func TestHostileOversizeResultAtClient(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	huge := strings.Repeat("R", 4000)
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		"echo":    echo,
		"blowup":  func(context.Context, *gearman.Job) ([]byte, error) { return []byte(huge), nil },
		"explode": func(context.Context, *gearman.Job) ([]byte, error) { return nil, errors.New(huge) },
		"chatty": func(_ context.Context, j *gearman.Job) ([]byte, error) {
			if err := j.SendData([]byte(huge)); err != nil {
				return nil, err
			}
			if err := j.SendData([]byte("small data")); err != nil {
				return nil, err
			}
			return []byte("chatty done"), nil
		},
	}, gearman.WithConcurrency(4))
	rec := &logRecorder{}
	c, err := gearman.NewClient(ctx, []string{srv.Addr()}, gearman.WithMaxPacketSize(1024), gearman.WithLogger(slog.New(rec)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	for _, tc := range []struct{ fn, packet string }{{"blowup", "WORK_COMPLETE"}, {"explode", "WORK_EXCEPTION"}} {
		small, err := c.Submit(ctx, "echo", []byte("beside "+tc.fn))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Call(ctx, tc.fn, nil)
		var tooLarge *gearman.PacketTooLargeError
		if !errors.As(err, &tooLarge) || !tooLarge.Skipped || tooLarge.Max != 1024 ||
			!strings.Contains(err.Error(), tc.fn+" job ") || !strings.Contains(err.Error(), "result dropped: "+tc.packet+" packet of ") ||
			!strings.Contains(err.Error(), "over the 1024-byte limit") {
			t.Fatalf("%s: %v; want the task failed with a skipped *PacketTooLargeError naming %s", tc.fn, err, tc.packet)
		}
		if errors.Is(err, gearman.ErrProtocol) || errors.Is(err, gearman.ErrConnectionLost) {
			t.Fatalf("%s: %v: an oversize result costs only its task", tc.fn, err)
		}
		if got, err := small.Wait(ctx); err != nil || string(got) != "beside "+tc.fn {
			t.Fatalf("task beside %s: %q, %v", tc.fn, got, err)
		}
	}
	var updates []string
	got, err := c.Call(ctx, "chatty", nil, gearman.WithUpdates(func(u gearman.Update) { updates = append(updates, string(u.Data)) }))
	if err != nil || string(got) != "chatty done" || len(updates) != 1 || updates[0] != "small data" {
		t.Fatalf("job with a big WORK_DATA: %q, %v, updates %q; want its result and only the small update", got, err, updates)
	}
	if got, err := c.Echo(ctx, []byte("still here")); err != nil || string(got) != "still here" {
		t.Fatalf("Echo after the big results: %q, %v", got, err)
	}
	for _, lr := range rec.all() {
		if strings.Contains(lr.msg, "disconnected") || errors.Is(lr.err, gearman.ErrProtocol) {
			t.Errorf("client log: %s %v: big results must not cost the connection", lr.msg, lr.err)
		}
	}
	rec.waitFor(t, ctx, "the dropped WORK_DATA", func(rs []logRecord) bool {
		for _, lr := range rs {
			if strings.Contains(lr.msg, "dropped a job update") && lr.attrs["packet"] == "WORK_DATA" && lr.attrs["limit"] == "1024" {
				return true
			}
		}
		return false
	})
}

// TestHostileNamesAndUniques: names and unique ids that gearmand would
// refuse, or that would break the packet framing, are refused before
// anything is sent, and the connection stays usable.
func TestHostileNamesAndUniques(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	uniqueAndData := func(_ context.Context, j *gearman.Job) ([]byte, error) {
		return []byte(j.Unique + "|" + string(j.Data)), nil
	}
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{"echo": echo, "unique": uniqueAndData})
	c := newClient(t, srv.Addr())
	for _, tc := range []struct {
		name, fn, unique string
		want             []string
	}{
		// gearmand would cut a 64-byte id and corrupt the job's data.
		{"unique of 64 bytes", "echo", strings.Repeat("u", 64), []string{"submit echo", "unique id of 64 bytes", "63-byte limit"}},
		{"unique of 65 bytes", "echo", strings.Repeat("u", 65), []string{"submit echo", "unique id of 65 bytes", "63-byte limit"}},
		{"unique of 1000 bytes", "echo", strings.Repeat("u", 1000), []string{"unique id of 1000 bytes", "63-byte limit"}},
		{"NUL in unique", "echo", "a\x00b", []string{"submit echo", `unique id "a\x00b" contains a NUL byte`}},
		{"empty function", "", "", []string{"empty function name"}},
		{"NUL in function", "ec\x00ho", "", []string{`function name "ec\x00ho" contains a NUL byte`}},
	} {
		calls := map[string]func() error{
			"Call": func() error { _, err := c.Call(ctx, tc.fn, []byte("x"), gearman.WithUnique(tc.unique)); return err },
			"Submit": func() error {
				_, err := c.Submit(ctx, tc.fn, []byte("x"), gearman.WithUnique(tc.unique))
				return err
			},
			"SubmitBackground": func() error {
				_, err := c.SubmitBackground(ctx, tc.fn, []byte("x"), gearman.WithUnique(tc.unique))
				return err
			},
		}
		for what, call := range calls {
			err := call()
			if err == nil {
				t.Fatalf("%s: %s accepted", tc.name, what)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: %s: %q does not say %q", tc.name, what, err, w)
				}
			}
		}
	}
	// The longest unique id gearmand handles reaches the worker whole,
	// and so does the job's data.
	longest := strings.Repeat("k", gearman.MaxUniqueSize)
	if got, err := c.Call(ctx, "unique", []byte("data"), gearman.WithUnique(longest)); err != nil || string(got) != longest+"|data" {
		t.Fatalf("%d-byte unique id: %q, %v", len(longest), got, err)
	}
	st := waitStatus(t, srv.Addr(), "echo", func(s gearman.FunctionStatus) bool { return s.Running == 0 })
	if st.Queued != 0 {
		t.Fatalf("a refused job reached gearmand: %+v", st)
	}
	a, err := gearman.DialAdmin(ctx, srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	all, err := a.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.Name != "echo" && s.Name != "unique" {
			t.Errorf("gearmand knows function %q: a refused name reached it", s.Name)
		}
	}
}

// TestHostileWorkerRegisterNames: Register refuses names that cannot go on
// the wire, saying why, and the worker serves the good ones.
func TestHostileWorkerRegisterNames(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	w := runWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{"echo": echo})
	for name, want := range map[string]string{
		"":         "empty function name",
		"a\x00b":   `function name "a\x00b" contains a NUL byte`,
		"\x00":     `function name "\x00" contains a NUL byte`,
		"echo\x00": `function name "echo\x00" contains a NUL byte`,
	} {
		if err := w.Register(name, echo); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Register(%q) = %v, want an error containing %q", name, err, want)
		}
	}
	waitWorkers(t, srv.Addr(), "echo", 1)
	c := newClient(t, srv.Addr())
	if got, err := c.Call(ctx, "echo", []byte("ok")); err != nil || string(got) != "ok" {
		t.Fatalf("after bad registrations: %q, %v", got, err)
	}
}

// TestHostileGarbageToGearmand: a connection that sends garbage to the
// job server a worker uses is dropped (or answered with ERROR), and the
// worker keeps serving.
func TestHostileGarbageToGearmand(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	rec := &logRecorder{}
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{"echo": echo}, gearman.WithLogger(slog.New(rec)))
	c := newClient(t, srv.Addr())
	call := func(what string) {
		t.Helper()
		if got, err := c.Call(ctx, "echo", []byte(what)); err != nil || string(got) != what {
			t.Fatalf("call after %s: %q, %v", what, got, err)
		}
	}
	dial := func() net.Conn {
		t.Helper()
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		if deadline, ok := ctx.Deadline(); ok {
			conn.SetDeadline(deadline)
		}
		return conn
	}
	random := append([]byte{0}, randomBytes(1, 255)...) // binary, not an admin command line
	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"random bytes", random},
		{"bad magic", rawHeader("\x00REX", gearman.SubmitJob, 0)},
		{"unknown packet type", rawHeader("\x00REQ", 99, 0)},
		{"packet type zero", rawHeader("\x00REQ", 0, 0)},
	} {
		conn := dial()
		if _, err := conn.Write(tc.send); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(conn)
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("%s: reading until gearmand drops the connection: %v", tc.name, err)
		}
		if len(got) != 0 {
			t.Fatalf("%s: gearmand answered %q, want it to drop the connection", tc.name, got)
		}
		call(tc.name)
	}

	// A response packet sent as a request: gearmand answers ERROR and
	// keeps the connection.
	conn := dial()
	conn.Write(packet(t, gearman.MagicRes, gearman.Noop))
	p, err := gearman.NewPacketReader(conn, 0).ReadPacket()
	if err != nil || p.Type != gearman.Error || p.Arg(0) != "INVALID_MAGIC" {
		t.Fatalf("RES magic sent to gearmand: %v, %v; want ERROR INVALID_MAGIC", p, err)
	}
	call("a response packet")

	// A header that declares 4 GiB: gearmand waits for the body, without
	// reserving it, while it serves everyone else.
	huge := dial()
	huge.Write(append(rawHeader("\x00REQ", gearman.SubmitJob, 0xFFFFFFFF), "echo\x00u\x00"...))
	huge.Write(bytes.Repeat([]byte("x"), 1<<20))
	call("a 4 GiB header")
	huge.Close()

	// Text that is no admin command gets ERR.
	text := dial()
	text.Write([]byte("\xff\xfegarbage \x01\x02\r\n"))
	line := make([]byte, 3)
	if _, err := io.ReadFull(text, line); err != nil || string(line) != "ERR" {
		t.Fatalf("garbage text: %q, %v; want an ERR line", line, err)
	}
	call("garbage text")

	for _, lr := range rec.all() {
		if strings.Contains(lr.msg, "disconnected") || lr.err != nil {
			t.Errorf("worker log: %s %v: other connections' garbage must not touch the worker", lr.msg, lr.err)
		}
	}
}

// workerGarbage is what fake job servers send to a worker, and what the
// worker must say about it.
var workerGarbage = []struct {
	name string
	send func(t *testing.T) []byte
	want string
}{
	{"random bytes", func(*testing.T) []byte { return randomBytes(2, 64) }, "bad magic"},
	{"bad magic", func(*testing.T) []byte { return rawHeader("\x00RSX", gearman.Noop, 0) }, "bad magic"},
	{"request magic", func(*testing.T) []byte { return rawHeader("\x00REQ", gearman.Noop, 0) }, "NOOP is not a valid REQ packet"},
	{"unknown type", func(*testing.T) []byte { return rawHeader("\x00RES", 99, 0) }, "unknown packet type 99"},
	{"huge length", func(*testing.T) []byte { return rawHeader("\x00RES", gearman.Noop, 0xFFFFFFFF) }, "NOOP packet of 4294967295 bytes is over the"},
	{"huge job, then the end", func(*testing.T) []byte {
		return append(rawHeader("\x00RES", gearman.JobAssignUniq, 0xFFFFFFFF), "H:x:1\x00echo\x00u\x00data"...)
	}, "JOB_ASSIGN_UNIQ packet of 4294967295 bytes is over the 1024-byte limit: the stream ended"},
	{"huge job with no head", func(*testing.T) []byte {
		return append(rawHeader("\x00RES", gearman.JobAssignUniq, 0xFFFFFFFF), bytes.Repeat([]byte("h"), 70<<10)...)
	}, "its first 3 arguments are not within its first 65536 bytes"},
	{"answers to no ask", func(t *testing.T) []byte {
		return append(packet(t, gearman.MagicRes, gearman.NoJob), packet(t, gearman.MagicRes, gearman.NoJob)...)
	}, "unexpected NO_JOB"},
	{"a client's packet", func(t *testing.T) []byte { return packet(t, gearman.MagicRes, gearman.JobCreated, "H:x:1") }, "unexpected JOB_CREATED"},
	{"short header", func(*testing.T) []byte { return rawHeader("\x00RES", gearman.Noop, 0)[:7] }, "inside a packet header"},
	{"short body", func(*testing.T) []byte {
		return append(rawHeader("\x00RES", gearman.JobAssignUniq, 100), "H:1\x00f"...)
	}, "inside a 100-byte JOB_ASSIGN_UNIQ body"},
}

// behaveAsJobServer plays a job server that hands the worker one job,
// then has no more, and reports the job's result.
func behaveAsJobServer(t *testing.T, c net.Conn, results chan<- string) {
	pr := gearman.NewPacketReader(c, 0)
	assigned := false
	for {
		p, err := pr.ReadPacket()
		if err != nil {
			return
		}
		switch p.Type {
		case gearman.GrabJobUniq:
			reply := packet(t, gearman.MagicRes, gearman.NoJob)
			if !assigned {
				assigned = true
				reply = packet(t, gearman.MagicRes, gearman.JobAssignUniq, "H:fake:1", "echo", "u1", "served by the fake")
			}
			c.Write(reply)
		case gearman.WorkComplete:
			results <- p.Arg(1)
		case gearman.WorkException, gearman.WorkFail:
			results <- p.Type.String() + " " + p.Arg(1)
		}
	}
}

// TestHostileServerToWorker: a job server that sends garbage makes the
// worker report a protocol error, drop the connection and dial again,
// waiting longer each time; once the server behaves, jobs are served.
func TestHostileServerToWorker(t *testing.T) {
	ctx := testenv.ContextWithin(t, time.Minute)
	results := make(chan string, 1)
	fake := startFakeServer(t, func(n int, c net.Conn) {
		if n < len(workerGarbage) {
			sendGarbage(c, workerGarbage[n].send(t))
			return
		}
		behaveAsJobServer(t, c, results)
	})
	rec := &logRecorder{}
	const minWait, maxWait = 2 * time.Millisecond, 200 * time.Millisecond
	runWorker(t, []string{fake.addr()}, map[string]gearman.JobFunc{"echo": echo},
		gearman.WithConcurrency(1), gearman.WithMaxPacketSize(1024),
		gearman.WithBackoff(minWait, maxWait), gearman.WithLogger(slog.New(rec)))

	select {
	case got := <-results:
		if got != "served by the fake" {
			t.Fatalf("job from the server once it behaves: %q", got)
		}
	case <-ctx.Done():
		t.Fatalf("the worker never got to a server that behaves; log: %+v", rec.all())
	}
	errs := rec.protocolErrors()
	if len(errs) != len(workerGarbage) {
		t.Fatalf("%d protocol errors logged, want %d: %+v", len(errs), len(workerGarbage), errs)
	}
	for i, g := range workerGarbage {
		if !strings.Contains(errs[i].err.Error(), g.want) || errs[i].attrs["server"] != fake.addr() {
			t.Errorf("%s: logged %q, want the server and %q", g.name, errs[i].err, g.want)
		}
	}
	if errs[0].level != slog.LevelWarn {
		t.Errorf("first protocol error logged at %v, want WARN", errs[0].level)
	}
	// No busy loop: each broken connection costs a doubling wait.
	times := fake.acceptTimes()
	n := len(workerGarbage)
	if span, least := times[n].Sub(times[0]), minBackoffs(n, minWait, maxWait); span < least {
		t.Errorf("%d broken connections redialled within %v, want backoff of at least %v", n, span, least)
	}
}

// TestHostileBadServerBesideGoodOne: a worker whose second job server only
// sends garbage keeps serving jobs from the first, and keeps trying the
// second with backoff.
func TestHostileBadServerBesideGoodOne(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	bad := startFakeServer(t, func(n int, c net.Conn) { sendGarbage(c, randomBytes(uint64(n), 32)) })
	rec := &logRecorder{}
	const minWait, maxWait = 5 * time.Millisecond, 40 * time.Millisecond
	runWorker(t, []string{srv.Addr(), bad.addr()}, map[string]gearman.JobFunc{"echo": echo},
		gearman.WithConcurrency(2), gearman.WithBackoff(minWait, maxWait), gearman.WithLogger(slog.New(rec)))
	waitWorkers(t, srv.Addr(), "echo", 1)
	c := newClient(t, srv.Addr())
	for i := 0; len(bad.acceptTimes()) < 6; i++ {
		want := "job " + strconv.Itoa(i)
		if got, err := c.Call(ctx, "echo", []byte(want)); err != nil || string(got) != want {
			t.Fatalf("%s with a bad second server: %q, %v", want, got, err)
		}
	}
	errs := rec.protocolErrors()
	if len(errs) == 0 || !strings.Contains(errs[0].err.Error(), "bad magic") || errs[0].level != slog.LevelWarn {
		t.Fatalf("protocol errors logged: %+v; want a WARN about the bad magic", errs)
	}
	for _, lr := range errs[1:] {
		if lr.level != slog.LevelDebug {
			t.Errorf("repeated protocol error logged at %v, want DEBUG: %s %v", lr.level, lr.msg, lr.err)
		}
	}
	times := bad.acceptTimes()
	if span, least := times[5].Sub(times[0]), minBackoffs(5, minWait, maxWait); span < least {
		t.Errorf("5 broken connections redialled within %v, want backoff of at least %v", span, least)
	}
}

// clientGarbage is what fake job servers answer a client's ECHO_REQ with.
var clientGarbage = []struct {
	name string
	send func(t *testing.T) []byte
	want string
}{
	{"random bytes", func(*testing.T) []byte { return randomBytes(3, 64) }, "bad magic"},
	{"unknown type", func(*testing.T) []byte { return rawHeader("\x00RES", 77, 0) }, "unknown packet type 77"},
	{"huge length", func(*testing.T) []byte { return rawHeader("\x00RES", gearman.EchoRes, 0xFFFFFFFF) }, "ECHO_RES packet of 4294967295 bytes is over the 1024-byte limit"},
	{"a worker's packet", func(t *testing.T) []byte { return packet(t, gearman.MagicReq, gearman.GrabJob) }, "unexpected GRAB_JOB"},
	{"wrong answer", func(t *testing.T) []byte { return packet(t, gearman.MagicRes, gearman.JobCreated, "H:x:1") }, "got JOB_CREATED in answer to ECHO_REQ"},
	{"huge job for nobody", func(*testing.T) []byte {
		return append(rawHeader("\x00RES", gearman.JobAssign, 5000), bytes.Repeat([]byte("j\x00"), 2500)...)
	}, "unexpected JOB_ASSIGN from job server (JOB_ASSIGN packet of 5000 bytes"},
	{"short body", func(*testing.T) []byte { return append(rawHeader("\x00RES", gearman.EchoRes, 10), "abc"...) }, "inside a 10-byte ECHO_RES body"},
}

// behaveAsClientServer answers a client's requests the way gearmand does:
// echoes, and jobs that complete at once with their data reversed.
func behaveAsClientServer(t *testing.T, c net.Conn) {
	pr := gearman.NewPacketReader(c, 0)
	for n := 1; ; n++ {
		p, err := pr.ReadPacket()
		if err != nil {
			return
		}
		switch p.Type {
		case gearman.OptionReq:
			c.Write(packet(t, gearman.MagicRes, gearman.OptionRes, p.Arg(0)))
		case gearman.EchoReq:
			c.Write(packet(t, gearman.MagicRes, gearman.EchoRes, p.Arg(0)))
		case gearman.SubmitJob:
			h := "H:fake:" + strconv.Itoa(n)
			data := []byte(p.Arg(2))
			for i, j := 0, len(data)-1; i < j; i, j = i+1, j-1 {
				data[i], data[j] = data[j], data[i]
			}
			c.Write(append(packet(t, gearman.MagicRes, gearman.JobCreated, h),
				packet(t, gearman.MagicRes, gearman.WorkComplete, h, string(data))...))
		}
	}
}

// TestHostileServerToClient: each piece of garbage fails the request in
// flight with an error wrapping ErrConnectionLost and ErrProtocol, is
// logged, and the client reconnects with backoff; once the server
// behaves, requests and jobs go through.
func TestHostileServerToClient(t *testing.T) {
	ctx := testenv.ContextWithin(t, time.Minute)
	fake := startFakeServer(t, func(n int, c net.Conn) {
		if n >= len(clientGarbage) {
			behaveAsClientServer(t, c)
			return
		}
		// Answer the handshake, then wait for the client's ECHO_REQ, so
		// that it is in flight when the garbage comes.
		pr := gearman.NewPacketReader(c, 0)
		for {
			p, err := pr.ReadPacket()
			if err != nil {
				return
			}
			if p.Type == gearman.OptionReq {
				c.Write(packet(t, gearman.MagicRes, gearman.OptionRes, p.Arg(0)))
			}
			if p.Type == gearman.EchoReq {
				break
			}
		}
		sendGarbage(c, clientGarbage[n].send(t))
	})
	rec := &logRecorder{}
	const minWait, maxWait = 2 * time.Millisecond, 200 * time.Millisecond
	c, err := gearman.NewClient(ctx, []string{fake.addr()}, gearman.WithMaxPacketSize(1024),
		gearman.WithBackoff(minWait, maxWait), gearman.WithLogger(slog.New(rec)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, g := range clientGarbage {
		_, err := c.Echo(ctx, []byte("ping"))
		if !errors.Is(err, gearman.ErrConnectionLost) || !errors.Is(err, gearman.ErrProtocol) || !strings.Contains(err.Error(), g.want) {
			t.Fatalf("%s: Echo = %v; want ErrConnectionLost and ErrProtocol with %q", g.name, err, g.want)
		}
	}
	if got, err := c.Echo(ctx, []byte("ping")); err != nil || string(got) != "ping" {
		t.Fatalf("Echo once the server behaves: %q, %v", got, err)
	}
	if got, err := c.Call(ctx, "anything", []byte("abc")); err != nil || string(got) != "cba" {
		t.Fatalf("Call once the server behaves: %q, %v", got, err)
	}
	rec.waitFor(t, ctx, "a protocol error per broken connection", func([]logRecord) bool {
		return len(rec.protocolErrors()) == len(clientGarbage)
	})
	errs := rec.protocolErrors()
	for i, g := range clientGarbage {
		if !strings.Contains(errs[i].err.Error(), g.want) {
			t.Errorf("%s: logged %q, want %q", g.name, errs[i].err, g.want)
		}
	}
	if errs[0].level != slog.LevelWarn {
		t.Errorf("first protocol error logged at %v, want WARN", errs[0].level)
	}
	times := fake.acceptTimes()
	n := len(clientGarbage)
	if span, least := times[n].Sub(times[0]), minBackoffs(n, minWait, maxWait); span < least {
		t.Errorf("%d broken connections redialled within %v, want backoff of at least %v", n, span, least)
	}
}
