package gearman_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/gearmand"
)

// exampleServer starts a throwaway job server on a free loopback port.
func exampleServer() *gearmand.Process {
	srv, err := gearmand.Start(context.Background(), gearmand.Options{})
	if err != nil {
		log.Fatal(err)
	}
	return srv
}

// exampleWorker returns a running worker serving fn as function; it waits
// until the job server lists it, so that the example's next step sees it.
func exampleWorker(addr, function string, fn gearman.JobFunc, opts ...gearman.RegisterOption) *gearman.Worker {
	w, err := gearman.NewWorker([]string{addr})
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Register(function, fn, opts...); err != nil {
		log.Fatal(err)
	}
	go w.Run()
	waitListed(addr, function, 1)
	return w
}

// waitListed waits until the job server at addr lists n workers for fn.
func waitListed(addr, fn string, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := gearman.DialAdmin(ctx, addr)
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	for {
		st, err := a.Status(ctx)
		if err != nil {
			log.Fatal(err)
		}
		workers := 0
		for _, f := range st {
			if f.Name == fn {
				workers = f.Workers
			}
		}
		if workers == n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func exampleClient(addr string) *gearman.Client {
	c, err := gearman.NewClient(context.Background(), []string{addr})
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// NewWorker checks its arguments; it contacts no job server (Run does).
func ExampleNewWorker() {
	w, err := gearman.NewWorker([]string{"127.0.0.1:4730"}, gearman.WithConcurrency(8),
		gearman.WithClientID("resizer-1"))
	fmt.Println(w != nil, err)
	_, err = gearman.NewWorker([]string{"127.0.0.1:4730"}, gearman.WithConcurrency(0))
	fmt.Println(err)
	// Output:
	// true <nil>
	// gearman: worker concurrency 0 is not positive
}

// Functions can be registered before or while the worker runs.
func ExampleWorker_Register() {
	srv := exampleServer()
	defer srv.Stop()
	w := exampleWorker(srv.Addr(), "upper", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		return []byte(strings.ToUpper(string(j.Data))), nil
	})
	defer w.Close()
	w.Register("lower", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		return []byte(strings.ToLower(string(j.Data))), nil
	})
	fmt.Println(w.Register("upper", nil))

	c := exampleClient(srv.Addr())
	defer c.Close()
	up, _ := c.Call(context.Background(), "upper", []byte("Gearman"))
	low, _ := c.Call(context.Background(), "lower", []byte("Gearman"))
	fmt.Println(string(up), string(low))
	// Output:
	// gearman: register upper: nil JobFunc
	// GEARMAN gearman
}

// WithTimeout gives each job a deadline: its context ends, and the job
// server is told too (CAN_DO_TIMEOUT), so a hung worker does not keep
// the job forever.
func ExampleWithTimeout() {
	srv := exampleServer()
	defer srv.Stop()
	w := exampleWorker(srv.Addr(), "slow", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}, gearman.WithTimeout(100*time.Millisecond))
	defer w.Close()

	c := exampleClient(srv.Addr())
	defer c.Close()
	_, err := c.Call(context.Background(), "slow", nil)
	var ex *gearman.JobException
	fmt.Println(errors.As(err, &ex) && strings.Contains(string(ex.Data), "ran over its 100ms timeout"))
	// Output: true
}

func ExampleWorker_Unregister() {
	srv := exampleServer()
	defer srv.Stop()
	w := exampleWorker(srv.Addr(), "upper", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		return []byte(strings.ToUpper(string(j.Data))), nil
	})
	defer w.Close()

	fmt.Println(w.Unregister("upper"))
	waitListed(srv.Addr(), "upper", 0) // the job server no longer lists it
	fmt.Println(w.Unregister("upper"))
	// Output:
	// <nil>
	// gearman: unregister upper: not registered
}

// Run serves until Shutdown or Close; one Run at a time.
func ExampleWorker_Run() {
	srv := exampleServer()
	defer srv.Stop()
	w, err := gearman.NewWorker([]string{srv.Addr()})
	if err != nil {
		log.Fatal(err)
	}
	w.Register("echo", func(ctx context.Context, j *gearman.Job) ([]byte, error) { return j.Data, nil })
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	waitListed(srv.Addr(), "echo", 1) // serving

	fmt.Println(w.Run())
	w.Shutdown(context.Background())
	err = <-ran
	fmt.Println(err, errors.Is(err, gearman.ErrWorkerClosed))
	// Output:
	// gearman: worker: already running
	// gearman: worker closed true
}

// Shutdown takes no more jobs and waits for the running ones.
func ExampleWorker_Shutdown() {
	srv := exampleServer()
	defer srv.Stop()
	started, release := make(chan struct{}), make(chan struct{})
	w := exampleWorker(srv.Addr(), "report", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		close(started)
		<-release
		return []byte("report done"), nil
	})
	c := exampleClient(srv.Addr())
	defer c.Close()
	task, err := c.Submit(context.Background(), "report", nil)
	if err != nil {
		log.Fatal(err)
	}
	<-started

	shut := make(chan error)
	go func() { shut <- w.Shutdown(context.Background()) }()
	close(release) // the job finishes; only then does Shutdown return
	fmt.Println(<-shut)
	out, err := task.Wait(context.Background())
	fmt.Println(string(out), err)
	// Output:
	// <nil>
	// report done <nil>
}

// Close stops at once: running jobs see their context end, and the job
// server gives them to another worker.
func ExampleWorker_Close() {
	srv := exampleServer()
	defer srv.Stop()
	started := make(chan struct{})
	var first sync.Once
	w1 := exampleWorker(srv.Addr(), "job", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		first.Do(func() { close(started) })
		<-ctx.Done()
		return nil, ctx.Err()
	})
	c := exampleClient(srv.Addr())
	defer c.Close()
	task, err := c.Submit(context.Background(), "job", nil)
	if err != nil {
		log.Fatal(err)
	}
	<-started
	fmt.Println(w1.Close())

	w2 := exampleWorker(srv.Addr(), "job", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		return []byte("done by the second worker"), nil
	})
	defer w2.Close()
	out, err := task.Wait(context.Background())
	fmt.Println(string(out), err)
	// Output:
	// <nil>
	// done by the second worker <nil>
}

// runWithUpdates calls function once and returns the updates its worker
// sent before the result.
func runWithUpdates(addr, function string) []string {
	c := exampleClient(addr)
	defer c.Close()
	var mu sync.Mutex
	var got []string
	out, err := c.Call(context.Background(), function, nil, gearman.WithUpdates(func(u gearman.Update) {
		mu.Lock()
		defer mu.Unlock()
		switch u.Kind {
		case gearman.UpdateStatus:
			got = append(got, fmt.Sprintf("status %d/%d", u.Numerator, u.Denom))
		case gearman.UpdateWarning:
			got = append(got, "warning "+string(u.Data))
		default:
			got = append(got, "data "+string(u.Data))
		}
	}))
	if err != nil {
		log.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return append(got, "result "+string(out))
}

func ExampleJob_SendData() {
	srv := exampleServer()
	defer srv.Stop()
	w := exampleWorker(srv.Addr(), "lines", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		j.SendData([]byte("line 1"))
		j.SendData([]byte("line 2"))
		return []byte("2 lines"), nil
	})
	defer w.Close()
	fmt.Println(strings.Join(runWithUpdates(srv.Addr(), "lines"), "\n"))
	// Output:
	// data line 1
	// data line 2
	// result 2 lines
}

func ExampleJob_SendStatus() {
	srv := exampleServer()
	defer srv.Stop()
	w := exampleWorker(srv.Addr(), "steps", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		for i := range uint64(3) {
			j.SendStatus(i+1, 3)
		}
		return []byte("ok"), nil
	})
	defer w.Close()
	fmt.Println(strings.Join(runWithUpdates(srv.Addr(), "steps"), "\n"))
	// Output:
	// status 1/3
	// status 2/3
	// status 3/3
	// result ok
}

func ExampleJob_SendWarning() {
	srv := exampleServer()
	defer srv.Stop()
	w := exampleWorker(srv.Addr(), "resize", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		j.SendWarning([]byte("image upscaled"))
		return []byte("resized"), nil
	})
	defer w.Close()
	fmt.Println(strings.Join(runWithUpdates(srv.Addr(), "resize"), "\n"))
	// Output:
	// warning image upscaled
	// result resized
}

// A job function returns a *JobException to choose the exact bytes of the
// WORK_EXCEPTION, for example a machine-readable error.
func ExampleJobException() {
	srv := exampleServer()
	defer srv.Stop()
	w := exampleWorker(srv.Addr(), "charge", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		return nil, &gearman.JobException{Data: []byte(`{"code": "card_declined"}`)}
	})
	defer w.Close()
	c := exampleClient(srv.Addr())
	defer c.Close()
	_, err := c.Call(context.Background(), "charge", nil)
	var ex *gearman.JobException
	if errors.As(err, &ex) {
		fmt.Println(string(ex.Data))
	}
	// Output: {"code": "card_declined"}
}
