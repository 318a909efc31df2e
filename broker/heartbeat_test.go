package broker

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/testenv"
)

// freezingProxy forwards TCP connections to a backend until freeze: from
// then on the connections it holds forward nothing but stay open, as a
// partition that keeps both ends' state does, while connections made
// after freeze forward normally.
type freezingProxy struct {
	ln      net.Listener
	backend string
	mu      sync.Mutex
	frozen  chan struct{} // closed by freeze, for the connections made before it
	conns   []net.Conn
	wg      sync.WaitGroup
}

func startFreezingProxy(t *testing.T, backend string) *freezingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{ln: ln, backend: backend, frozen: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *freezingProxy) url() string { return "tcp://" + p.ln.Addr().String() }

func (p *freezingProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.DialTimeout("tcp", p.backend, time.Second)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		frozen := p.frozen
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(out, in, frozen)
		go p.pipe(in, out, frozen)
	}
}

// pipe copies src to dst until either closes; once frozen is closed it
// stops copying and keeps both open.
func (p *freezingProxy) pipe(dst, src net.Conn, frozen chan struct{}) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-frozen:
			io.Copy(io.Discard, src) // until close; nothing reaches dst
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// freeze freezes the connections open now.
func (p *freezingProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.frozen)
	p.frozen = make(chan struct{})
}

func (p *freezingProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestSubscriberLeavesAFrozenConnection: a subscriber whose connection to
// the broker stops carrying anything, without either end being told (the
// network partition of the netns tests, where a worker on the healed host
// never answered ping -via zmq again), drops it by its heartbeat and
// receives again on a new connection. Without heartbeats it waits forever.
func TestSubscriberLeavesAFrozenConnection(t *testing.T) {
	saved := heartbeat
	heartbeat.interval, heartbeat.timeout = 100*time.Millisecond, 500*time.Millisecond
	t.Cleanup(func() { heartbeat = saved })

	ctx := testenv.ContextWithin(t, 20*time.Second)
	b := startBroker(t, ephemeral)
	a := b.Addrs()
	proxy := startFreezingProxy(t, a.CommandBackendURL[len("tcp://"):])
	pub := newPublisher(t, a.CommandFrontendURL)
	sub := newSubscriber(t, proxy.url(), "cmd")
	waitSubscribed(t, ctx, pub, "cmd")
	if err := pub.Send("cmd", []byte("before")); err != nil {
		t.Fatal(err)
	}
	if _, parts := recv(t, ctx, sub); string(parts[0]) != "before" {
		t.Fatalf("got %q before the freeze", parts)
	}

	proxy.freeze()
	// Keep publishing: what goes into the frozen connection is lost, a
	// message sent after the subscriber reconnected arrives.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				pub.Send("cmd", []byte("after"))
			}
		}
	}()
	frozenAt := time.Now()
	if _, parts := recv(t, ctx, sub); string(parts[0]) != "after" {
		t.Fatalf("got %q after the freeze", parts)
	}
	t.Logf("received again %v after the connection froze", time.Since(frozenAt).Round(10*time.Millisecond))
}
