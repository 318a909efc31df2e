package pool_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/direct"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// directPool connects a pool with opts to addr and waits for the slots
// of funcs.Identity.
func directPool(t *testing.T, addr string, slots int, opts ...pool.Option) *pool.Pool {
	t.Helper()
	p, err := pool.New(config.Client{JobServers: []string{addr}}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	waitSlots(t, p, funcs.Identity.Name(), slots)
	return p
}

// relayedBy runs fn and returns the bytes the proxy relayed meanwhile.
func relayedBy(proxy interface {
	Up() int64
	Down() int64
}, fn func()) int64 {
	before := proxy.Up() + proxy.Down()
	fn()
	return proxy.Up() + proxy.Down() - before
}

// TestDirectPathBypassesJobServer: a map of large items comes back byte
// for byte while the job server relays kilobytes, not the items (the
// direct path is on by default); with it off, the job server relays every
// item both ways, as before.
func TestDirectPathBypassesJobServer(t *testing.T) {
	addr := gearmand(t)
	startWorkerProcess(t, 2, addr)
	ctx := testenv.Context(t)
	const n, size = 32, 1 << 20
	in := testenv.Blobs(n, size, 1)
	for _, tc := range []struct {
		name string
		opts []pool.Option
	}{{"default", nil}, {"off", []pool.Option{pool.WithDirectData(false)}}} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := testenv.CountBytes(t, addr)
			p := directPool(t, proxy.Addr(), 2, tc.opts...)
			var out [][]byte
			var err error
			relayed := relayedBy(proxy, func() { out, err = pool.Map(ctx, p, funcs.Identity, in) })
			if err != nil {
				t.Fatal(err)
			}
			testenv.SameBlobs(t, in, out)
			t.Logf("the job server relayed %d bytes for %d x %d bytes each way", relayed, n, size)
			if tc.opts == nil && relayed > 256<<10 {
				t.Fatalf("the job server relayed %d bytes: the items went through it", relayed)
			}
			if st := p.Stats(); (tc.opts == nil) != (st.DirectChunks > 0) || st.DirectFallbacks != 0 {
				t.Fatalf("Stats: %d direct chunks, %d fallbacks", st.DirectChunks, st.DirectFallbacks)
			}
			if tc.opts != nil && relayed < 2*n*size {
				t.Fatalf("with the direct path off the job server relayed %d bytes, want the items both ways (%d)", relayed, 2*n*size)
			}
		})
	}
}

// logCounter counts the log records whose message holds a string.
type logCounter struct {
	slog.Handler
	want string
	n    *atomic.Int64
}

func (h logCounter) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.want) {
		h.n.Add(1)
	}
	return nil
}

func (h logCounter) Enabled(context.Context, slog.Level) bool { return true }

// closedPort is a loopback address nobody listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestDirectPathFallsBack: a pool whose workers cannot reach its data
// server (it advertises a closed port) still maps byte for byte: the
// workers answer so, the chunks go through the job server, and the pool
// stops trying the direct path, with one warning.
func TestDirectPathFallsBack(t *testing.T) {
	addr := gearmand(t)
	startWorkerProcess(t, 2, addr)
	ctx := testenv.Context(t)
	proxy := testenv.CountBytes(t, addr)
	var warnings atomic.Int64
	log := slog.New(logCounter{Handler: slog.DiscardHandler, want: "direct path off", n: &warnings})
	p := directPool(t, proxy.Addr(), 2, pool.WithDirectAdvertise(closedPort(t)), pool.WithLogger(log))
	const n, size = 16, 1 << 20
	for round := range 2 {
		in := testenv.Blobs(n, size, uint64(round))
		var out [][]byte
		var err error
		relayed := relayedBy(proxy, func() { out, err = pool.Map(ctx, p, funcs.Identity, in) })
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		testenv.SameBlobs(t, in, out)
		if round == 1 && relayed < 2*n*size {
			t.Fatalf("after the fallback the job server relayed %d bytes, want the items both ways", relayed)
		}
	}
	if !pool.DirectDisabled(p) || warnings.Load() != 1 {
		t.Fatalf("direct path disabled %v, %d warnings; want true and 1", pool.DirectDisabled(p), warnings.Load())
	}
	if st := p.Stats(); st.DirectChunks != 0 || st.DirectFallbacks == 0 {
		t.Fatalf("Stats: %d direct chunks, %d fallbacks; want none and some", st.DirectChunks, st.DirectFallbacks)
	}
}

// TestDirectWorkerKilledMidTransfer: the only worker is SIGKILLed
// halfway through fetching a chunk, or through sending its result back;
// gearmand gives the job to a new worker, which fetches the chunk again,
// and the map's results are byte for byte its items. (A partial transfer
// is dropped: internal/direct's TestPartialResultDropped. Here a killed
// worker's result may still arrive whole, from its socket's buffers.)
func TestDirectWorkerKilledMidTransfer(t *testing.T) {
	for _, stage := range []direct.Stage{direct.StagePayload, direct.StageResult} {
		name := map[direct.Stage]string{direct.StagePayload: "fetch", direct.StageResult: "result"}[stage]
		t.Run(name, func(t *testing.T) {
			addr := gearmand(t)
			victim := startWorkerProcess(t, 1, addr)
			var fetches, halfway atomic.Int64
			paused, release := make(chan struct{}), make(chan struct{})
			pause := func(s direct.Stage) {
				if s == direct.StagePayload {
					fetches.Add(1)
				}
				if s == stage && halfway.Add(1) == 1 {
					close(paused)
					<-release
				}
			}
			p := directPool(t, addr, 1, pool.WithDirectPause(pause))
			t.Cleanup(func() { closeOnce(release) })
			ctx := testenv.Context(t)
			in := testenv.Blobs(8, 1<<20, 7)
			type answer struct {
				out [][]byte
				err error
			}
			done := make(chan answer, 1)
			go func() {
				out, err := pool.Map(ctx, p, funcs.Identity, in, pool.Chunksize(4))
				done <- answer{out, err}
			}()
			select {
			case <-paused:
			case a := <-done:
				t.Fatalf("the map ended before any transfer paused: %v", a.err)
			case <-ctx.Done():
				t.Fatal("no transfer reached halfway")
			}
			victim.Process.Kill()
			victim.Wait()
			startWorkerProcess(t, 1, addr)
			closeOnce(release)
			a := <-done
			if a.err != nil {
				t.Fatal(a.err)
			}
			testenv.SameBlobs(t, in, a.out)
			// The killed worker's chunk, by it and again, and the other chunk.
			if fetches.Load() < 3 {
				t.Fatalf("%d fetches, want the killed worker's chunk twice and the other chunk", fetches.Load())
			}
		})
	}
}

var closeMu sync.Mutex

func closeOnce(c chan struct{}) {
	closeMu.Lock()
	defer closeMu.Unlock()
	select {
	case <-c:
	default:
		close(c)
	}
}

// TestDirectTokensDroppedWhenMapEnds: once a map returns, done or
// cancelled, its payloads are gone from the pool's data server: a fetch
// with one of its references gets "gone".
func TestDirectTokensDroppedWhenMapEnds(t *testing.T) {
	addr := gearmand(t)
	startWorkerProcess(t, 1, addr)
	var mu sync.Mutex
	var refs []direct.Ref
	var hold atomic.Bool
	held, release := make(chan struct{}, 8), make(chan struct{})
	p := directPool(t, addr, 1,
		pool.WithDirectRefs(func(r direct.Ref) { mu.Lock(); refs = append(refs, r); mu.Unlock() }),
		pool.WithDirectPause(func(s direct.Stage) {
			if s == direct.StagePayload && hold.Load() {
				held <- struct{}{}
				<-release
			}
		}))
	t.Cleanup(func() { closeOnce(release) })
	ctx := testenv.Context(t)
	in := testenv.Blobs(4, 1<<20, 9)
	takeRefs := func() []direct.Ref {
		mu.Lock()
		defer mu.Unlock()
		r := refs
		refs = nil
		return r
	}
	checkGone := func(what string, rs []direct.Ref) {
		t.Helper()
		if len(rs) == 0 {
			t.Fatalf("%s: no chunk went by the direct path", what)
		}
		for _, r := range rs {
			f, err := direct.Open(ctx, r, 1<<30)
			if err == nil {
				f.Close()
			}
			if !errors.Is(err, direct.ErrGone) {
				t.Fatalf("%s: a fetch after the map returned: %v, want %v", what, err, direct.ErrGone)
			}
		}
		if n := pool.DirectOffers(p); n != 0 {
			t.Fatalf("%s: the data server still holds %d payloads", what, n)
		}
	}

	out, err := pool.Map(ctx, p, funcs.Identity, in, pool.Chunksize(2))
	if err != nil {
		t.Fatal(err)
	}
	testenv.SameBlobs(t, in, out)
	checkGone("done", takeRefs())

	hold.Store(true)
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := pool.Map(mctx, p, funcs.Identity, in, pool.Chunksize(2))
		done <- err
	}()
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("no transfer started")
	}
	cancel()
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the cancelled map did not return within 5s")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled map: %v", err)
	}
	checkGone("cancelled", takeRefs())
	closeOnce(release)
}

// TestDirectPathNotOverTLS: with TLS to the job servers, large items
// still go through them (the direct path is plaintext): no chunk gets a
// reference, and the values come back byte for byte.
func TestDirectPathNotOverTLS(t *testing.T) {
	srv := testenv.TLSGearmand(t, "--verbose=ERROR")
	startWorkerProcessEnv(t, []string{workerCAEnv + "=" + srv.CAFile}, 1, srv.Addr())
	var refs atomic.Int64
	p, err := pool.New(config.Client{JobServers: []string{srv.Addr()}, TLS: true, TLSCAFile: srv.CAFile},
		pool.WithDirectRefs(func(direct.Ref) { refs.Add(1) }))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitSlots(t, p, funcs.Identity.Name(), 1)
	in := testenv.Blobs(8, 1<<20, 4)
	out, err := pool.Map(testenv.Context(t), p, funcs.Identity, in)
	if err != nil {
		t.Fatal(err)
	}
	testenv.SameBlobs(t, in, out)
	if refs.Load() != 0 {
		t.Fatalf("%d chunks took the direct path over TLS", refs.Load())
	}
}

// TestDirectDataAddressUnspecified: a listener bound to every interface
// (direct_data_address = 0.0.0.0) advertises the pool's address on its
// route to the job server, which workers can dial, not 0.0.0.0.
func TestDirectDataAddressUnspecified(t *testing.T) {
	addr := gearmand(t)
	startWorkerProcess(t, 1, addr)
	var mu sync.Mutex
	var refs []direct.Ref
	p := directPool(t, addr, 1, pool.WithDirectDataAddress("0.0.0.0"),
		pool.WithDirectRefs(func(r direct.Ref) { mu.Lock(); refs = append(refs, r); mu.Unlock() }))
	in := testenv.Blobs(4, 1<<20, 2)
	out, err := pool.Map(testenv.Context(t), p, funcs.Identity, in)
	if err != nil {
		t.Fatal(err)
	}
	testenv.SameBlobs(t, in, out)
	mu.Lock()
	defer mu.Unlock()
	if len(refs) == 0 || !strings.HasPrefix(refs[0].Addr, "127.0.0.1:") || pool.DirectDisabled(p) {
		t.Fatalf("references %+v (direct path disabled: %v), want 127.0.0.1:PORT", refs, pool.DirectDisabled(p))
	}
}

// TestDirectDataAddressChecked: New refuses a malformed
// WithDirectDataAddress, naming it, before it dials anything.
func TestDirectDataAddressChecked(t *testing.T) {
	_, err := pool.New(config.Client{JobServers: []string{"127.0.0.1:1"}}, pool.WithDirectDataAddress("host:port"))
	if err == nil || !strings.Contains(err.Error(), `WithDirectDataAddress("host:port")`) {
		t.Fatalf("New with a malformed direct address: %v", err)
	}
}
