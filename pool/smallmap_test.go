package pool_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// countingProxy forwards TCP connections to a real gearmand and counts
// what the pool does there: the connections it opens and the admin
// "workers" questions it puts.
type countingProxy struct {
	ln      net.Listener
	backend string
	dials   atomic.Int64
	workers atomic.Int64 // "workers" lines sent to the admin port
	// received counts the bytes gearmand sent to the pool.
	received atomic.Int64

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startCountingProxy(t *testing.T, backend string) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{ln: ln, backend: backend}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *countingProxy) addr() string { return p.ln.Addr().String() }

func (p *countingProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			c.Close()
			continue
		}
		p.dials.Add(1)
		p.mu.Lock()
		p.conns = append(p.conns, c, b)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(c, countingReader{b, &p.received}); c.Close() }()
		go func() { defer p.wg.Done(); p.forward(b, c); b.Close() }()
	}
}

// countingReader counts the bytes read through it into n.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(b []byte) (int, error) {
	k, err := c.r.Read(b)
	c.n.Add(int64(k))
	return k, err
}

// forward copies the client's bytes to gearmand, counting "workers"
// questions (a line the Admin writes whole).
func (p *countingProxy) forward(dst, src net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.workers.Add(int64(bytes.Count(buf[:n], []byte("workers\r\n"))))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *countingProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// proxiedPool is a pool whose job server is gearmand behind a counting
// proxy, with two worker slots serving every function straight.
func proxiedPool(t *testing.T, opts ...pool.Option) (*pool.Pool, *countingProxy) {
	addr := gearmand(t, "--verbose=ERROR")
	startWorker(t, 2, addr)
	proxy := startCountingProxy(t, addr)
	p, err := pool.New(config.Client{JobServers: []string{proxy.addr()}}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	waitSlots(t, p, funcs.Square.Name(), 2)
	return p, proxy
}

// A map whose function the pool knows to be served does not ask the
// admin port first: back-to-back one-item maps put about one "workers"
// question per second in all (the background refresh), not one each.
func TestMapAsksNoAdminWhenWorkersKnown(t *testing.T) {
	p, proxy := proxiedPool(t)
	ctx := testenv.Context(t)
	const maps = 200
	before := proxy.workers.Load()
	start := time.Now()
	for i := range maps {
		out, err := pool.Map(ctx, p, funcs.Square, []int64{int64(i)})
		if err != nil || out[0] != int64(i*i) {
			t.Fatalf("map %d: %v, %v", i, out, err)
		}
	}
	asked := proxy.workers.Load() - before
	// One refresh per second of maps at most, and one more for the edge.
	if limit := int64(time.Since(start)/time.Second) + 2; asked > limit {
		t.Fatalf("%d one-item maps in %v put %d \"workers\" questions to the admin port, want at most %d", maps, time.Since(start), asked, limit)
	}
}

// A map of a function whose workers left fails with ErrNoWorkers even
// when the cached answer said they were there: the cached "yes" only
// spares the question, it never keeps a map waiting past the grace.
func TestMapNoWorkersAfterCachedAnswer(t *testing.T) {
	addr := gearmand(t, "--verbose=ERROR")
	w, err := serve([]string{addr}, 1, "leaves")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run() }()
	p, err := pool.New(config.Client{JobServers: []string{addr}}, pool.WithNoWorkersGrace(400*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitSlots(t, p, funcs.Square.Name(), 1)
	ctx := testenv.Context(t)
	if _, err := pool.Map(ctx, p, funcs.Square, []int64{3}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	<-done
	err = testenv.ReturnsWithin(t, "a map with no worker left", 5*time.Second, func() error {
		_, err := pool.Map(ctx, p, funcs.Square, []int64{4})
		return err
	})
	if !errors.Is(err, pool.ErrNoWorkers) {
		t.Fatalf("map after the worker left: %v, want ErrNoWorkers", err)
	}
}

// Concurrent maps of several chunks (each with a connection of its own)
// reuse connections: after a first burst, a second burst of the same size
// dials no new connection to the job server.
func TestConcurrentMapsReuseConnections(t *testing.T) {
	p, proxy := proxiedPool(t)
	waitSlots(t, p, counted.Name(), 2)
	ctx := testenv.Context(t)
	const concurrent = 40
	items := []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}
	burst := func() {
		var wg sync.WaitGroup
		for range concurrent {
			wg.Go(func() {
				if _, err := pool.Map(ctx, p, counted, items, pool.Chunksize(1)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	burst()
	before := proxy.dials.Load()
	burst()
	if dialed := proxy.dials.Load() - before; dialed > 0 {
		t.Fatalf("a second burst of %d concurrent two-chunk maps dialed %d new connections, want none", concurrent, dialed)
	}
}

// Map ids stay unique across pools (the job servers would coalesce two
// maps' chunks that shared a unique id): two pools' one-item maps of the
// same item on one gearmand each get their own answer, and every map
// runs its own job.
func TestMapIDsDifferAcrossPools(t *testing.T) {
	addr := gearmand(t, "--verbose=ERROR")
	startWorker(t, 2, addr)
	a := newPool(t, funcs.Square.Name(), 2, addr)
	b := newPool(t, funcs.Square.Name(), 2, addr)
	ctx, cancel := context.WithTimeout(testenv.Context(t), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, p := range []*pool.Pool{a, b} {
		wg.Go(func() {
			for i := range 50 {
				out, err := pool.Map(ctx, p, funcs.Square, []int64{int64(i)})
				if err != nil || out[0] != int64(i*i) {
					t.Errorf("map %d: %v, %v", i, out, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// oneItemMapsDials runs n one-item maps of counted, each item taking d,
// all at once, and returns how many connections p dialled through proxy
// meanwhile.
func oneItemMapsDials(t *testing.T, p *pool.Pool, proxy *countingProxy, n int, d time.Duration) int64 {
	t.Helper()
	ctx := testenv.Context(t)
	before := proxy.dials.Load()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := pool.Map(ctx, p, counted, []time.Duration{d}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	return proxy.dials.Load() - before
}

// Concurrent one-item maps share a few connections: forty at once, each
// waiting for its turn on two worker slots, do not dial forty.
func TestConcurrentOneItemMapsShareConnections(t *testing.T) {
	p, proxy := proxiedPool(t)
	waitSlots(t, p, counted.Name(), 2)
	const concurrent = 40
	// At most maxSharedClients (2) connections, and one admin connection.
	if dialed := oneItemMapsDials(t, p, proxy, concurrent, 20*time.Millisecond); dialed > 5 {
		t.Fatalf("%d concurrent one-item maps dialed %d connections, want at most 5", concurrent, dialed)
	}
}

// Hundreds of one-item maps at once go over two shared connections, not
// four: the fewer connections, the more packets each system call carries,
// on this side and on gearmand's. 300 maps of 10ms on two slots are all
// waiting together, past the 64 maps a connection takes before another
// is dialled, so the old limit of four was reached.
func TestManyConcurrentOneItemMapsShareTwoConnections(t *testing.T) {
	p, proxy := proxiedPool(t)
	waitSlots(t, p, counted.Name(), 2)
	const concurrent = 300
	// Two shared connections, and one admin connection.
	if dialed := oneItemMapsDials(t, p, proxy, concurrent, 10*time.Millisecond); dialed > 3 {
		t.Fatalf("%d concurrent one-item maps dialed %d connections, want at most 3", concurrent, dialed)
	}
}

// A one-item map cancelled while its job is queued leaves the job to no
// worker: its shared connection is retired and, once no other map uses
// it, closed, which makes gearmand drop the job.
func TestCancelledOneItemMapDropsQueuedJob(t *testing.T) {
	addr := gearmand(t, "--verbose=ERROR")
	startWorker(t, 1, addr)
	p := newPool(t, counted.Name(), 1, addr)
	ctx := testenv.Context(t)
	countedCalls.Store(0)
	// Hold the only slot (an Imap has a connection of its own).
	busy := make(chan error, 1)
	go func() {
		var err error
		for _, e := range pool.Imap(ctx, p, counted, slices.Values([]time.Duration{400 * time.Millisecond})) {
			err = e
		}
		busy <- err
	}()
	testenv.Eventually(t, ctx, "the slot taken", func() (bool, error) { return countedCalls.Load() == 1, nil })
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := pool.Map(short, p, counted, []time.Duration{time.Millisecond}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled one-item map: %v, want context.DeadlineExceeded", err)
	}
	if err := <-busy; err != nil {
		t.Fatal(err)
	}
	// The next map runs after anything still queued before it.
	if _, err := pool.Map(ctx, p, counted, []time.Duration{time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if n := countedCalls.Load(); n != 2 {
		t.Fatalf("%d calls ran, want 2: the cancelled map's queued job ran too", n)
	}
}

// TestSmallCallsReuseGoroutines: one-item calls one after another start
// no goroutine per call, neither for the chunk's copy on the client nor
// for the job on the worker (both in this process): each used to start
// one, and grow its stack, per call.
func TestSmallCallsReuseGoroutines(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 2, addr)
	p := newPool(t, funcs.Square.Name(), 2, addr)
	ctx := context.Background()
	call := func(n int) {
		for i := range n {
			got, err := pool.Call(ctx, p, funcs.Square, int64(i))
			if err != nil || got != int64(i)*int64(i) {
				t.Fatalf("Call(%d) = %d, %v", i, got, err)
			}
		}
	}
	call(20) // connections, the worker check, the first runners
	const calls = 200
	before := goroutinesCreated()
	call(calls)
	if created := goroutinesCreated() - before; created >= calls/2 {
		t.Errorf("%d one-item calls one after another started %d goroutines; want under %d", calls, created, calls/2)
	}
}

// goroutinesCreated is how many goroutines this process has started.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestChunksize1MapBatchesSubmits: a Chunksize(1) map writes its chunks'
// submissions several at a time. Client and worker share this process:
// the worker writes once per chunk (its result and its next ask), so the
// process makes about one write system call per item; when each
// submission was a write of its own, it made two.
func TestChunksize1MapBatchesSubmits(t *testing.T) {
	if writeCalls() == 0 {
		t.Skip("no /proc/self/io")
	}
	addr := gearmand(t)
	startWorker(t, 2, addr)
	p := newPool(t, funcs.Square.Name(), 2, addr)
	items := ints(2000)
	before := writeCalls()
	out, err := pool.Map(context.Background(), p, funcs.Square, items, pool.Chunksize(1))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if v != items[i]*items[i] {
			t.Fatalf("item %d = %d, want %d", i, v, items[i]*items[i])
		}
	}
	if per := float64(writeCalls()-before) / float64(len(items)); per > 1.5 {
		t.Errorf("%.2f write system calls per item; want at most 1.5", per)
	}
}
