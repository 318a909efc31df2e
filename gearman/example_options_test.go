package gearman_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
)

// The job server lists a connection under the id given with WithClientID.
func ExampleWithClientID() {
	srv := exampleServer()
	defer srv.Stop()
	w, err := gearman.NewWorker([]string{srv.Addr()}, gearman.WithClientID("resizer-1"))
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	w.Register("resize", func(context.Context, *gearman.Job) ([]byte, error) { return nil, nil })
	go w.Run()
	waitListed(srv.Addr(), "resize", 1)

	a, err := gearman.DialAdmin(context.Background(), srv.Addr())
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	ws, err := a.Workers(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, wi := range ws {
		if wi.ClientID != "" {
			fmt.Println(wi.ClientID, wi.Functions)
		}
	}
	// Output: resizer-1 [resize]
}

// WithDialTimeout applies to a Client, a Worker and an Admin alike.
func ExampleWithDialTimeout() {
	srv := exampleServer()
	defer srv.Stop()
	dial := gearman.WithDialTimeout(time.Second)

	c, err := gearman.NewClient(context.Background(), []string{srv.Addr()}, dial)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	_, err = gearman.NewWorker([]string{srv.Addr()}, dial)
	fmt.Println(err)
	a, err := gearman.DialAdmin(context.Background(), srv.Addr(), dial)
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	fmt.Println("connected")
	// Output:
	// <nil>
	// connected
}

// A Client refuses to submit a job over its packet size limit, before
// anything is sent.
func ExampleWithMaxPacketSize() {
	srv := exampleServer()
	defer srv.Stop()
	c, err := gearman.NewClient(context.Background(), []string{srv.Addr()}, gearman.WithMaxPacketSize(1024))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	_, err = c.SubmitBackground(context.Background(), "store", bytes.Repeat([]byte("x"), 2000))
	var tooLarge *gearman.PacketTooLargeError
	fmt.Println(errors.As(err, &tooLarge), tooLarge.Max)
	// Output: true 1024
}

// WithBackoff sets how fast a Worker (or a Client) dials a job server
// again: here a worker started before its job server serves as soon as
// the server is up.
func ExampleWithBackoff() {
	srv := exampleServer()
	addr := srv.Addr()
	srv.Stop()
	w, err := gearman.NewWorker([]string{addr}, gearman.WithBackoff(5*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	w.Register("late", func(context.Context, *gearman.Job) ([]byte, error) { return []byte("on time"), nil })
	go w.Run()

	if err := srv.Restart(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()
	c := exampleClient(addr)
	defer c.Close()
	out, err := c.Call(context.Background(), "late", nil)
	fmt.Println(string(out), err)
	// Output: on time <nil>
}

// WithLogger receives connection events; the handler here drops the time
// and the (random) server address so that the output is fixed.
func ExampleWithLogger() {
	srv := exampleServer()
	defer srv.Stop()
	h := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "server" {
				return slog.Attr{}
			}
			return a
		},
	})
	c, err := gearman.NewClient(context.Background(), []string{srv.Addr()}, gearman.WithLogger(slog.New(h)))
	if err != nil {
		log.Fatal(err)
	}
	c.Close() // waits for the connection's goroutines, so the line is out
	// Output: level=DEBUG msg="gearman: connected"
}

// WithConcurrency bounds how many jobs a Worker runs at once.
func ExampleWithConcurrency() {
	srv := exampleServer()
	defer srv.Stop()
	var running, most atomic.Int32
	w, err := gearman.NewWorker([]string{srv.Addr()}, gearman.WithConcurrency(2))
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	w.Register("slow", func(context.Context, *gearman.Job) ([]byte, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		// Hold the slot until two jobs have overlapped (or a while has
		// passed), so that a third slot, were there one, would be seen.
		for wait := time.Now().Add(5 * time.Second); most.Load() < 2 && time.Now().Before(wait); {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(10 * time.Millisecond)
		return nil, nil
	})
	go w.Run()
	c := exampleClient(srv.Addr())
	defer c.Close()
	var tasks []*gearman.Task
	for range 6 {
		t, err := c.Dispatch(context.Background(), "slow", nil)
		if err != nil {
			log.Fatal(err)
		}
		tasks = append(tasks, t)
	}
	for _, t := range tasks {
		t.Wait(context.Background())
	}
	fmt.Println("at most", most.Load(), "at once")
	// Output: at most 2 at once
}

// A worker that reads jobs of at most 1 KiB fails a larger one, unread,
// with the error WithOversizeJobs makes: the client gets it as a
// WORK_EXCEPTION.
func ExampleWithOversizeJobs() {
	srv := exampleServer()
	defer srv.Stop()
	ctx := context.Background()
	w, err := gearman.NewWorker([]string{srv.Addr()}, gearman.WithMaxPacketSize(1024),
		gearman.WithOversizeJobs(func(job *gearman.Job, size int) error {
			return fmt.Errorf("%s: %d bytes is more than this worker takes", job.Function, size)
		}))
	if err != nil {
		log.Fatal(err)
	}
	w.Register("upper", func(ctx context.Context, job *gearman.Job) ([]byte, error) {
		return bytes.ToUpper(job.Data), nil
	})
	go w.Run()
	defer w.Shutdown(ctx)

	c, err := gearman.NewClient(ctx, []string{srv.Addr()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	_, err = c.Call(ctx, "upper", make([]byte, 4000))
	var ex *gearman.JobException
	if errors.As(err, &ex) {
		fmt.Println(string(ex.Data))
	}
	// Output: upper: 4000 bytes is more than this worker takes
}

// A worker of several job servers bounds how long one of them may leave
// its asks for jobs unanswered: a hung server gives the worker's slots
// back to the others after 2s instead of keeping them.
func ExampleWithGrabTimeout() {
	w, err := gearman.NewWorker([]string{"127.0.0.1:4730", "127.0.0.1:4731"},
		gearman.WithConcurrency(4), gearman.WithGrabTimeout(2*time.Second))
	fmt.Println(err)
	w.Close()
	// Output: <nil>
}

// A job's data, and its result, can be sent in parts that are written
// from where they are (one writev), never assembled: here a header and a
// large value the caller holds, and a result that is the job's own data
// after a prefix.
func ExampleWithMoreData() {
	srv := exampleServer()
	defer srv.Stop()
	w, err := gearman.NewWorker([]string{srv.Addr()})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	w.Register("wrap", func(_ context.Context, j *gearman.Job) ([]byte, error) {
		j.SetMoreResult(j.Data, []byte(")"))
		return []byte("("), nil
	})
	go w.Run()
	waitListed(srv.Addr(), "wrap", 1)

	c, err := gearman.NewClient(context.Background(), []string{srv.Addr()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	value := bytes.Repeat([]byte("x"), 1<<20)
	task, err := c.Dispatch(context.Background(), "wrap", []byte("header:"), gearman.WithMoreData(value))
	if err != nil {
		log.Fatal(err)
	}
	out, err := task.Wait(context.Background())
	fmt.Println(len(out), string(out[:9]), string(out[len(out)-2:]), err)
	// Output: 1048585 (header:x x) <nil>
}
