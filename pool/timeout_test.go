package pool_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/gearmantest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

var timeoutSquare = pool.Register("timeouttest.square", func(_ context.Context, x int) (int, error) { return x * x, nil })

// requestBound is the request timeout the tests set; returnLimit is how
// long they let a bounded call take (generous: the machine is shared).
const (
	requestBound = 300 * time.Millisecond
	returnLimit  = 10 * time.Second
)

func returnsWithin(t *testing.T, what string, fn func() error) error {
	t.Helper()
	return testenv.ReturnsWithin(t, what, returnLimit, fn)
}

func checkTimeout(t *testing.T, what string, err error, addr, waiting string) {
	t.Helper()
	gearmantest.CheckTimeout(t, what, err, addr, waiting, requestBound)
}

// squares maps timeoutSquare over 0..n-1 with context.Background() and
// checks every result.
func squares(t *testing.T, p *pool.Pool, n int, opts ...pool.MapOption) error {
	t.Helper()
	items := make([]int, n)
	for i := range items {
		items[i] = i
	}
	got, err := pool.Map(context.Background(), p, timeoutSquare, items, opts...)
	if err != nil {
		return err
	}
	for i, v := range got {
		if v != i*i {
			t.Fatalf("item %d: got %d, want %d", i, v, i*i)
		}
	}
	return nil
}

func newTimeoutPool(t *testing.T, addrs ...string) *pool.Pool {
	t.Helper()
	p, err := pool.New(config.Client{JobServers: addrs}, pool.WithRequestTimeout(requestBound))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestNewSilentJobServer: a job server that accepts and never answers
// fails pool.New within the request timeout, naming the server and the
// handshake it did not answer.
func TestNewSilentJobServer(t *testing.T) {
	addr := testenv.SilentServer(t)
	err := returnsWithin(t, "pool.New", func() error {
		p, err := pool.New(config.Client{JobServers: []string{addr}}, pool.WithRequestTimeout(requestBound))
		if err == nil {
			p.Close()
		}
		return err
	})
	checkTimeout(t, "pool.New", err, addr, "OPTION_RES for OPTION_REQ exceptions within 300ms")
}

// TestMapHungJobServer: a map on a job server that stops answering
// (SIGSTOP, after the pool connected) fails within the request timeout,
// naming the server and the timeout. Which question is left unanswered
// first varies: the map no longer asks the admin port when the pool's
// cached answer knows the workers, so it is often the connection's
// handshake or a submit.
func TestMapHungJobServer(t *testing.T) {
	srv := testenv.Gearmand(t)
	startWorker(t, 2, srv.Addr())
	p := newTimeoutPool(t, srv.Addr())
	waitSlots(t, p, timeoutSquare.Name(), 2)
	testenv.Hang(t, srv.Pid())
	err := returnsWithin(t, "Map", func() error { return squares(t, p, 10) })
	checkTimeout(t, "Map", err, srv.Addr(), "within 300ms")
}

// TestMapHungServerBesideLiveOne: of two job servers, one stops answering
// after the pool connected to both; a map still completes on the other:
// its chunks sent to the hung one time out and go to the live one.
func TestMapHungServerBesideLiveOne(t *testing.T) {
	live, hung := testenv.Gearmand(t), testenv.Gearmand(t)
	// The worker's asks to the hung server hold its slots until they
	// time out (gearman.WithGrabTimeout); here that is short.
	startWorkerWith(t, 2, []string{live.Addr(), hung.Addr()}, gearman.WithGrabTimeout(requestBound))
	p := newTimeoutPool(t, live.Addr(), hung.Addr())
	waitSlots(t, p, timeoutSquare.Name(), 2)
	testenv.Hang(t, hung.Pid())
	err := returnsWithin(t, "Map", func() error { return squares(t, p, 40, pool.Chunksize(1)) })
	if err != nil {
		t.Fatal(err)
	}
}

// TestMapSilentServerBesideLiveOne: a job server that never answers,
// listed first beside a real one, neither stops the pool from connecting
// nor a map from completing.
func TestMapSilentServerBesideLiveOne(t *testing.T) {
	silent, live := testenv.SilentServer(t), gearmand(t)
	startWorker(t, 2, live)
	var p *pool.Pool
	returnsWithin(t, "pool.New", func() error {
		p = newTimeoutPool(t, silent, live)
		return nil
	})
	waitSlots(t, p, timeoutSquare.Name(), 2)
	for range 2 { // the second map skips the silent server's admin port
		if err := returnsWithin(t, "Map", func() error { return squares(t, p, 40, pool.Chunksize(1)) }); err != nil {
			t.Fatal(err)
		}
	}
}

// TestZeroMQPortAsJobServer: a ZeroMQ port given as job server (the
// broker's, by mistake) fails pool.New at once with an error saying so,
// not after a timeout; beside a real job server it costs a map nothing.
func TestZeroMQPortAsJobServer(t *testing.T) {
	zmq, live := testenv.ZeroMQRouter(t), gearmand(t)
	err := returnsWithin(t, "pool.New", func() error {
		p, err := pool.New(config.Client{JobServers: []string{zmq}})
		if err == nil {
			p.Close()
		}
		return err
	})
	var te *gearman.TimeoutError
	if err == nil || errors.As(err, &te) || !strings.Contains(err.Error(), zmq) ||
		!strings.Contains(err.Error(), "Gearman") {
		t.Fatalf("pool.New: %v; want an error naming %s that says it is no Gearman server", err, zmq)
	}

	startWorker(t, 2, live)
	p, err := pool.New(config.Client{JobServers: []string{zmq, live}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitSlots(t, p, timeoutSquare.Name(), 2)
	if err := returnsWithin(t, "Map", func() error { return squares(t, p, 10) }); err != nil {
		t.Fatal(err)
	}
}
