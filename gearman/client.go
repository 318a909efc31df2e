package gearman

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// JobHandle names a job on the job server that holds it.
type JobHandle struct {
	Server string // "host:port" of the job server
	Handle string // the server's job handle
}

// JobStatus is the answer to GET_STATUS.
type JobStatus struct {
	Known     bool // the server knows the job (queued or running)
	Running   bool
	Numerator uint64 // progress last reported by WORK_STATUS
	Denom     uint64
}

// Client submits jobs to one or more job servers. It keeps one connection
// to each, pipelines every request on it, and reconnects with backoff when
// a connection breaks. It is safe for concurrent use.
//
// A job with a unique id always goes to the same live server (a hash of the
// id picks it), so that submitters of the same id meet on one server and
// are coalesced there; other jobs go round-robin. When the chosen server is
// down the next live one is used.
type Client struct {
	opts    clientOptions
	servers []*clientServer
	next    atomic.Uint32

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when a server connects

	tried chan *clientServer // each server once, after its first attempt
}

// NewClient connects to the job servers at addrs ("host[:port]"). It
// returns once one of them has answered the connection's handshake, or an
// error if none can be reached or answers within the dial and request
// timeouts; servers that are down are retried in the background.
func NewClient(ctx context.Context, addrs []string, opts ...ClientOption) (*Client, error) {
	addrs, err := normalizeAddrs(addrs)
	if err != nil {
		return nil, err
	}
	c := &Client{opts: newClientOptions(opts), changed: make(chan struct{}), tried: make(chan *clientServer, len(addrs))}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	for _, a := range addrs {
		s := &clientServer{c: c, addr: a, tasks: map[string]*taskList{}}
		c.servers = append(c.servers, s)
		c.wg.Add(1)
		go s.run()
	}
	var errs []error
	for range c.servers {
		var s *clientServer
		select {
		case s = <-c.tried:
		case <-ctx.Done():
			c.Close()
			return nil, ctx.Err()
		}
		s.mu.Lock()
		up, dialErr := s.ready, s.dialErr
		s.mu.Unlock()
		if up {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", s.addr, dialErr))
	}
	c.Close()
	return nil, fmt.Errorf("gearman: no job server reachable: %w", errors.Join(errs...))
}

// Close fails every task in flight with ErrClientClosed, closes the
// connections and waits for the client's goroutines to end. A foreground
// job still queued at a job server is dropped there when a worker asks
// for it.
func (c *Client) Close() error {
	c.cancel()
	for _, s := range c.servers {
		s.mu.Lock()
		cn := s.cn
		s.mu.Unlock()
		if cn != nil {
			cn.close(ErrClientClosed)
		}
	}
	c.wg.Wait()
	return nil
}

// Call submits a foreground job and waits for its result. The job server's
// acknowledgement is bounded by the request timeout (WithRequestTimeout);
// the result is not, as a job may run for hours: ctx bounds it.
func (c *Client) Call(ctx context.Context, function string, data []byte, opts ...SubmitOption) ([]byte, error) {
	s, err := c.newSubmission(function, data, opts, false)
	if err != nil {
		return nil, err
	}
	// No need to wait for JOB_CREATED on its own: an ERROR answer or a
	// lost connection ends the task too.
	if err := c.dispatch(ctx, s.key, s.req, s.args...); err != nil {
		return nil, fmt.Errorf("gearman: submit %s: %w", function, err)
	}
	return s.task.Wait(ctx)
}

// Submit submits a foreground job and returns once the job server has
// created it. The task's result comes later, through Wait or Done/Result.
func (c *Client) Submit(ctx context.Context, function string, data []byte, opts ...SubmitOption) (*Task, error) {
	s, err := c.newSubmission(function, data, opts, false)
	if err != nil {
		return nil, err
	}
	if _, err := c.request(ctx, s.key, s.req, s.args...); err != nil {
		return nil, fmt.Errorf("gearman: submit %s: %w", function, err)
	}
	return s.task, nil
}

// Dispatch sends a foreground job and returns without waiting for the job
// server to create it. Requests on one connection are pipelined in order,
// so jobs dispatched one after another from one goroutine reach their
// server in that order, at the cost of no round trip each. The task ends
// like any other (an ERROR answer or a lost connection ends it too); its
// Handle is known only once the server has created it.
func (c *Client) Dispatch(ctx context.Context, function string, data []byte, opts ...SubmitOption) (*Task, error) {
	s, err := c.newSubmission(function, data, opts, false)
	if err != nil {
		return nil, err
	}
	s.req.deferred = s.deferred
	if err := c.dispatch(ctx, s.key, s.req, s.args...); err != nil {
		return nil, fmt.Errorf("gearman: submit %s: %w", function, err)
	}
	return s.task, nil
}

// Flush writes the submissions queued with WithDeferredWrite, on every
// job server's connection, if no write on it is taking them already.
func (c *Client) Flush() {
	for _, s := range c.servers {
		s.mu.Lock()
		cn := s.cn
		s.mu.Unlock()
		if cn != nil {
			cn.flushQueued()
		}
	}
}

// SubmitBackground submits a background job: the job server answers as soon
// as it has queued it, and nobody waits for the result.
func (c *Client) SubmitBackground(ctx context.Context, function string, data []byte, opts ...SubmitOption) (JobHandle, error) {
	s, err := c.newSubmission(function, data, opts, true)
	if err != nil {
		return JobHandle{}, err
	}
	p, err := c.request(ctx, s.key, s.req, s.args...)
	if err != nil {
		return JobHandle{}, fmt.Errorf("gearman: submit background %s: %w", function, err)
	}
	return JobHandle{Server: p.server, Handle: p.pkt.Arg(0)}, nil
}

// Status asks the job server that holds a job how it is doing.
func (c *Client) Status(ctx context.Context, h JobHandle) (JobStatus, error) {
	var s *clientServer
	for _, cs := range c.servers {
		if cs.addr == h.Server {
			s = cs
		}
	}
	if s == nil {
		return JobStatus{}, fmt.Errorf("gearman: status of %s: %s is not one of this client's servers", h.Handle, h.Server)
	}
	r := &request{expect: StatusRes, sent: GetStatus, about: h.Handle, reply: make(chan reply, 1)}
	err := s.send(r, []byte(h.Handle))
	if errors.Is(err, errNotConnected) {
		err = fmt.Errorf("%s is not connected", h.Server)
	}
	var rep reply
	if err == nil {
		rep, err = r.wait(ctx)
	}
	if err != nil {
		return JobStatus{}, fmt.Errorf("gearman: status of %s: %w", h.Handle, err)
	}
	p := rep.pkt
	num, _ := strconv.ParseUint(p.Arg(3), 10, 64)
	den, _ := strconv.ParseUint(p.Arg(4), 10, 64)
	return JobStatus{Known: p.Arg(1) == "1", Running: p.Arg(2) == "1", Numerator: num, Denom: den}, nil
}

// Echo sends data to a job server and returns what it sent back: a
// round-trip check of the connection.
func (c *Client) Echo(ctx context.Context, data []byte) ([]byte, error) {
	r, err := c.request(ctx, "", &request{expect: EchoRes, sent: EchoReq}, data)
	if err != nil {
		return nil, fmt.Errorf("gearman: echo: %w", err)
	}
	return r.pkt.Args[0], nil
}

// Servers returns the client's job server addresses and whether each is
// connected now.
func (c *Client) Servers() map[string]bool {
	m := make(map[string]bool, len(c.servers))
	for _, s := range c.servers {
		s.mu.Lock()
		m[s.addr] = s.cn != nil && s.ready
		s.mu.Unlock()
	}
	return m
}

// request sends a packet to the server picked for key and waits for the
// answer.
func (c *Client) request(ctx context.Context, key string, r *request, args ...[]byte) (reply, error) {
	r.reply = make(chan reply, 1)
	if err := c.dispatch(ctx, key, r, args...); err != nil {
		return reply{}, err
	}
	return r.wait(ctx)
}

// dispatch sends r to the server picked for key. While no server is
// connected it waits for one, up to ctx and the request timeout.
func (c *Client) dispatch(ctx context.Context, key string, r *request, args ...[]byte) error {
	var timeout <-chan time.Time // started by the first wait
	for {
		if c.ctx.Err() != nil {
			return ErrClientClosed
		}
		s, wait := c.pick(key)
		if s == nil {
			if timeout == nil {
				t := time.NewTimer(c.opts.requestTimeout)
				defer t.Stop()
				timeout = t.C
			}
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return fmt.Errorf("no job server connected: %w", ctx.Err())
			case <-c.ctx.Done():
				return ErrClientClosed
			case <-timeout:
				return c.noServerError()
			}
		}
		err := s.send(r, args...)
		if errors.Is(err, errNotConnected) {
			continue // lost the race with a disconnect; pick again
		}
		return err
	}
}

var errNotConnected = errors.New("not connected")

// noServerError says that no server was connected for a whole request
// timeout, and why each was not.
func (c *Client) noServerError() error {
	addrs := make([]string, len(c.servers))
	var why []error
	for i, s := range c.servers {
		addrs[i] = s.addr
		s.mu.Lock()
		if s.dialErr != nil {
			why = append(why, fmt.Errorf("%s: %w", s.addr, s.dialErr))
		}
		s.mu.Unlock()
	}
	te := &TimeoutError{Server: strings.Join(addrs, ","), Waiting: "connected job server", After: c.opts.requestTimeout}
	if len(why) == 0 {
		return te
	}
	return fmt.Errorf("%w: %w", te, errors.Join(why...))
}

// pick returns a connected server for key, or nil and a channel that is
// closed when a server connects.
func (c *Client) pick(key string) (*clientServer, <-chan struct{}) {
	n := len(c.servers)
	var start int
	if key != "" {
		h := fnv.New32a()
		h.Write([]byte(key))
		start = int(h.Sum32() % uint32(n))
	} else if n > 1 {
		start = int(c.next.Add(1) % uint32(n))
	}
	c.mu.Lock()
	wait := c.changed
	c.mu.Unlock()
	for i := range n {
		s := c.servers[(start+i)%n]
		s.mu.Lock()
		// A conn whose reader saw it die is skipped before detach has
		// run, so a job goes to a live server without waiting; one whose
		// handshake is unanswered is skipped too, as its server may be
		// hung or no Gearman server at all.
		up := s.cn != nil && s.ready && s.cn.alive()
		s.mu.Unlock()
		if up {
			return s, nil
		}
	}
	return nil, wait
}

func (c *Client) announce() {
	c.mu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}
