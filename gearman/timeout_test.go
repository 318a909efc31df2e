package gearman_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/gearmantest"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// requestBound is the request timeout the tests set; returnLimit is how
// long they let a bounded call take (generous: the machine is shared).
const (
	requestBound = 300 * time.Millisecond
	returnLimit  = 5 * time.Second
)

func returnsWithin(t *testing.T, what string, fn func() error) error {
	t.Helper()
	return testenv.ReturnsWithin(t, what, returnLimit, fn)
}

func checkTimeout(t *testing.T, what string, err error, addr, waiting string) {
	t.Helper()
	gearmantest.CheckTimeout(t, what, err, addr, waiting, requestBound)
}

// TestRequestTimeoutSilentServer: a "job server" that accepts and never
// answers fails NewClient within the request timeout, naming the server
// and the handshake it never answered, instead of hanging the first call.
func TestRequestTimeoutSilentServer(t *testing.T) {
	addr := testenv.SilentServer(t)
	err := returnsWithin(t, "NewClient+Call", func() error {
		c, err := gearman.NewClient(context.Background(), []string{addr}, gearman.WithRequestTimeout(requestBound))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Call(context.Background(), "f", []byte("x"))
		return err
	})
	checkTimeout(t, "NewClient", err, addr, "OPTION_RES for OPTION_REQ exceptions")
}

// TestRequestTimeoutHungServer: a real gearmand that stops answering
// (SIGSTOP) fails a Call and the Echo in flight beside it within the
// request timeout, naming the server and the JOB_CREATED it waited for;
// a submit while no server answers fails within the timeout too; the
// client reconnects once the server is back. A job that runs longer than
// the request timeout is not cut short: only the acknowledgement is bound.
func TestRequestTimeoutHungServer(t *testing.T) {
	srv := testenv.Gearmand(t)
	// The job honours ctx: a copy that gearmand hands out again after
	// SIGCONT must not outlive the test's worker (goleak).
	slow := func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		select {
		case <-time.After(3 * requestBound):
			return j.Data, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{"slow": slow})
	c, err := gearman.NewClient(testenv.ContextWithin(t, time.Minute), []string{srv.Addr()}, gearman.WithRequestTimeout(requestBound),
		gearman.WithBackoff(5*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, err := c.Call(context.Background(), "slow", []byte("long job")); err != nil || string(got) != "long job" {
		t.Fatalf("a job longer than the request timeout: %q, %v", got, err)
	}

	resume := testenv.Hang(t, srv.Pid())
	var callErr, echoErr error
	returnsWithin(t, "Call and Echo on a hung server", func() error {
		var wg sync.WaitGroup
		wg.Go(func() { _, callErr = c.Call(context.Background(), "slow", []byte("x")) })
		wg.Go(func() { _, echoErr = c.Echo(context.Background(), []byte("x")) })
		wg.Wait()
		return nil
	})
	for what, err := range map[string]error{"Call": callErr, "Echo": echoErr} {
		if !errors.Is(err, gearman.ErrConnectionLost) {
			t.Errorf("%s: %v; want ErrConnectionLost", what, err)
		}
		var te *gearman.TimeoutError
		if errors.As(err, &te) && te.Waiting == "JOB_CREATED for SUBMIT_JOB slow" {
			checkTimeout(t, what, err, srv.Addr(), "no JOB_CREATED for SUBMIT_JOB slow within 300ms")
		} else {
			checkTimeout(t, what, err, srv.Addr(), "ECHO_RES for ECHO_REQ")
		}
	}
	err = returnsWithin(t, "Submit while no server answers", func() error {
		_, err := c.Submit(context.Background(), "slow", []byte("x"))
		return err
	})
	checkTimeout(t, "Submit", err, srv.Addr(), "connected job server")

	resume()
	ctx := testenv.ContextWithin(t, time.Minute)
	for {
		got, err := c.Echo(ctx, []byte("back"))
		if err == nil && string(got) == "back" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the client never came back after the server did: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAdminRequestTimeout: an admin port that accepts and never answers
// fails each command within the request timeout, naming the server and
// the command.
func TestAdminRequestTimeout(t *testing.T) {
	addr := testenv.SilentServer(t)
	a, err := gearman.DialAdmin(context.Background(), addr, gearman.WithRequestTimeout(requestBound))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	err = returnsWithin(t, "Workers", func() error { _, err := a.Workers(context.Background()); return err })
	checkTimeout(t, "Workers", err, addr, `reply to admin "workers"`)
	err = returnsWithin(t, "Status", func() error { _, err := a.Status(context.Background()); return err })
	checkTimeout(t, "Status", err, addr, `reply to admin "status"`)
}

// TestZeroMQPeerAsJobServer: a ZeroMQ ROUTER port given as job server fails
// NewClient at once with an error saying it is no Gearman server, not
// after the request timeout.
func TestZeroMQPeerAsJobServer(t *testing.T) {
	addr := testenv.ZeroMQRouter(t)
	err := returnsWithin(t, "NewClient+Call", func() error {
		c, err := gearman.NewClient(context.Background(), []string{addr})
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Call(context.Background(), "f", []byte("x"))
		return err
	})
	// libzmq resets the connection when it reads our first packet; if its
	// greeting comes first, that is a bad magic.
	var te *gearman.TimeoutError
	clear := errors.Is(err, gearman.ErrProtocol) && strings.Contains(err.Error(), "not a Gearman binary packet") ||
		errors.Is(err, syscall.ECONNRESET) && strings.Contains(err.Error(), "is it a Gearman job server?")
	if !clear || errors.As(err, &te) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("client: %v; want an error naming %s that says it is no Gearman server, not a timeout", err, addr)
	}
}

// TestZeroMQPeerAsAdminPort: an Admin pointed at a ZeroMQ ROUTER port fails
// at its greeting with a protocol error, not after the request timeout
// (nor after libzmq's 30s handshake timeout).
func TestZeroMQPeerAsAdminPort(t *testing.T) {
	addr := testenv.ZeroMQRouter(t)
	a, err := gearman.DialAdmin(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	err = returnsWithin(t, "Workers", func() error { _, err := a.Workers(context.Background()); return err })
	var te *gearman.TimeoutError
	if !errors.Is(err, gearman.ErrProtocol) || errors.As(err, &te) || !strings.Contains(err.Error(), addr) ||
		!strings.Contains(err.Error(), "not a Gearman admin port") {
		t.Fatalf("admin: %v; want a protocol error naming %s, not a timeout", err, addr)
	}
}

// TestWorkerHungServerGivesSlotsBack: a worker of two job servers, one of
// them hung (SIGSTOP). Its asks to the hung one are never answered, and
// each holds a slot: once the live one has no job, every slot ends up
// waiting there. Past WithGrabTimeout the worker drops that connection
// and its slots go back, so jobs on the live server run.
func TestWorkerHungServerGivesSlotsBack(t *testing.T) {
	live, hung := testenv.Gearmand(t), testenv.Gearmand(t)
	echo := func(_ context.Context, j *gearman.Job) ([]byte, error) { return j.Data, nil }
	resume := testenv.Hang(t, hung.Pid())
	defer resume()
	runWorker(t, []string{live.Addr(), hung.Addr()}, map[string]gearman.JobFunc{"echo": echo},
		gearman.WithConcurrency(2), gearman.WithGrabTimeout(requestBound),
		gearman.WithBackoff(5*time.Millisecond, 50*time.Millisecond))
	waitWorkers(t, live.Addr(), "echo", 1)
	time.Sleep(3 * requestBound) // idle: the slots drift to the hung server
	c := newClient(t, live.Addr())
	returnsWithin(t, "jobs on the live server", func() error {
		for i := range 10 {
			data := []byte{byte(i)}
			if got, err := c.Call(context.Background(), "echo", data); err != nil || string(got) != string(data) {
				t.Errorf("job %d: %q, %v", i, got, err)
			}
		}
		return nil
	})
}
