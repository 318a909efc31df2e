package gearman_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"sync/atomic"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
)

// NewClient returns once a job server has answered; Servers tells which
// are connected.
func ExampleNewClient() {
	srv := exampleServer()
	defer srv.Stop()

	c, err := gearman.NewClient(context.Background(), []string{srv.Addr()},
		gearman.WithDialTimeout(time.Second), gearman.WithRequestTimeout(5*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.Servers()[srv.Addr()])

	_, err = gearman.NewClient(context.Background(), nil)
	fmt.Println(err)
	// Output:
	// true
	// gearman: no job server address given
}

// Call waits for the job's result; a worker's error comes back as a
// *JobException.
func ExampleClient_Call() {
	srv := exampleServer()
	defer srv.Stop()
	w := exampleWorker(srv.Addr(), "divide", func(_ context.Context, job *gearman.Job) ([]byte, error) {
		if string(job.Data) == "0" {
			return nil, errors.New("division by zero")
		}
		return []byte("ok"), nil
	})
	defer w.Close()
	c := exampleClient(srv.Addr())
	defer c.Close()

	out, err := c.Call(context.Background(), "divide", []byte("2"))
	fmt.Println(string(out), err)
	_, err = c.Call(context.Background(), "divide", []byte("0"))
	var ex *gearman.JobException
	if errors.As(err, &ex) {
		fmt.Println(string(ex.Data))
	}
	// Output:
	// ok <nil>
	// division by zero
}

// Submit returns once the job server has created the job; the result
// comes later.
func ExampleClient_Submit() {
	srv := exampleServer()
	defer srv.Stop()
	c := exampleClient(srv.Addr())
	defer c.Close()
	ctx := context.Background()

	t, err := c.Submit(ctx, "reverse", []byte("stressed"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(t.Handle().Handle, "H:"), t.Handle().Server == srv.Addr())

	w := exampleWorker(srv.Addr(), "reverse", func(_ context.Context, job *gearman.Job) ([]byte, error) {
		b := bytes.Clone(job.Data)
		for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		return b, nil
	})
	defer w.Close()
	out, err := t.Wait(ctx)
	fmt.Println(string(out), err)
	// Output:
	// true true
	// desserts <nil>
}

// Done and Result serve a select over many tasks.
func ExampleTask_Done() {
	srv := exampleServer()
	defer srv.Stop()
	w := exampleWorker(srv.Addr(), "upper", func(_ context.Context, job *gearman.Job) ([]byte, error) {
		return bytes.ToUpper(job.Data), nil
	})
	defer w.Close()
	c := exampleClient(srv.Addr())
	defer c.Close()

	t, err := c.Submit(context.Background(), "upper", []byte("done"))
	if err != nil {
		log.Fatal(err)
	}
	select {
	case <-t.Done():
		out, err := t.Result()
		fmt.Println(string(out), err)
	case <-time.After(10 * time.Second):
		fmt.Println("no result")
	}
	// Output: DONE <nil>
}

// A background job is queued and nobody waits for it; Status asks how it
// is doing.
func ExampleClient_SubmitBackground() {
	srv := exampleServer()
	defer srv.Stop()
	c := exampleClient(srv.Addr())
	defer c.Close()
	ctx := context.Background()

	h, err := c.SubmitBackground(ctx, "report.nightly", []byte("2026-11-30"))
	if err != nil {
		log.Fatal(err)
	}
	st, err := c.Status(ctx, h) // no worker yet: queued, not running
	fmt.Printf("known %v, running %v, %v\n", st.Known, st.Running, err)
	// Output: known true, running false, <nil>
}

// Status reports a running job's progress (WORK_STATUS).
func ExampleClient_Status() {
	srv := exampleServer()
	defer srv.Stop()
	release := make(chan struct{})
	w := exampleWorker(srv.Addr(), "import", func(ctx context.Context, job *gearman.Job) ([]byte, error) {
		job.SendStatus(3, 10)
		<-release
		return nil, nil
	})
	defer w.Close()
	c := exampleClient(srv.Addr())
	defer c.Close()
	ctx := context.Background()

	var reported atomic.Bool
	t, err := c.Submit(ctx, "import", nil, gearman.WithUpdates(func(u gearman.Update) { reported.Store(true) }))
	if err != nil {
		log.Fatal(err)
	}
	for !reported.Load() {
		time.Sleep(time.Millisecond)
	}
	st, err := c.Status(ctx, t.Handle())
	fmt.Printf("running %v, %d/%d, %v\n", st.Running, st.Numerator, st.Denom, err)
	close(release)
	t.Wait(ctx)
	// Output: running true, 3/10, <nil>
}

// Echo checks the round trip to a job server.
func ExampleClient_Echo() {
	srv := exampleServer()
	defer srv.Stop()
	c := exampleClient(srv.Addr())
	defer c.Close()

	out, err := c.Echo(context.Background(), []byte("ping"))
	fmt.Println(string(out), err)
	// Output: ping <nil>
}

// Servers says which job servers the client is connected to.
func ExampleClient_Servers() {
	up, down := exampleServer(), exampleServer()
	defer up.Stop()
	downAddr := down.Addr()
	down.Stop()

	c, err := gearman.NewClient(context.Background(), []string{up.Addr(), downAddr})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	s := c.Servers()
	fmt.Println(len(s), s[up.Addr()], s[downAddr])
	// Output: 2 true false
}

// Close fails the calls made after it with ErrClientClosed.
func ExampleClient_Close() {
	srv := exampleServer()
	defer srv.Stop()
	c := exampleClient(srv.Addr())
	c.Close()

	_, err := c.Echo(context.Background(), []byte("anyone?"))
	fmt.Println(errors.Is(err, gearman.ErrClientClosed))
	// Output: true
}

// Submitters of the same function and unique id share one job.
func ExampleWithUnique() {
	srv := exampleServer()
	defer srv.Stop()
	c := exampleClient(srv.Addr())
	defer c.Close()
	ctx := context.Background()

	var tasks []*gearman.Task
	for range 3 {
		t, err := c.Submit(ctx, "thumbnail", []byte("cat.jpg"), gearman.WithUnique("cat.jpg@64px"))
		if err != nil {
			log.Fatal(err)
		}
		tasks = append(tasks, t)
	}
	var runs atomic.Int32
	w := exampleWorker(srv.Addr(), "thumbnail", func(_ context.Context, job *gearman.Job) ([]byte, error) {
		runs.Add(1)
		return []byte("thumb of " + string(job.Data)), nil
	})
	defer w.Close()
	for _, t := range tasks {
		out, _ := t.Wait(ctx)
		fmt.Println(string(out))
	}
	fmt.Println("runs:", runs.Load())
	// Output:
	// thumb of cat.jpg
	// thumb of cat.jpg
	// thumb of cat.jpg
	// runs: 1
}

// A worker takes high priority jobs before normal and low ones.
func ExampleWithPriority() {
	srv := exampleServer()
	defer srv.Stop()
	c := exampleClient(srv.Addr())
	defer c.Close()
	ctx := context.Background()

	var tasks []*gearman.Task
	for _, p := range []gearman.Priority{gearman.PriorityLow, gearman.PriorityNormal, gearman.PriorityHigh} {
		t, err := c.Submit(ctx, "job", []byte(p.String()), gearman.WithPriority(p))
		if err != nil {
			log.Fatal(err)
		}
		tasks = append(tasks, t)
	}
	w, err := gearman.NewWorker([]string{srv.Addr()}, gearman.WithConcurrency(1))
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	w.Register("job", func(_ context.Context, job *gearman.Job) ([]byte, error) {
		fmt.Println("running", string(job.Data))
		return nil, nil
	})
	go w.Run()
	for _, t := range tasks {
		t.Wait(ctx)
	}
	// Output:
	// running high
	// running normal
	// running low
}

// WithUpdates hands a task's WORK_DATA, WORK_WARNING and WORK_STATUS to a
// function, in order.
func ExampleWithUpdates() {
	srv := exampleServer()
	defer srv.Stop()
	w := exampleWorker(srv.Addr(), "count", func(_ context.Context, job *gearman.Job) ([]byte, error) {
		for i := 1; i <= 3; i++ {
			job.SendStatus(uint64(i), 3)
		}
		return []byte("counted"), nil
	})
	defer w.Close()
	c := exampleClient(srv.Addr())
	defer c.Close()

	out, err := c.Call(context.Background(), "count", nil, gearman.WithUpdates(func(u gearman.Update) {
		fmt.Printf("%d/%d\n", u.Numerator, u.Denom)
	}))
	fmt.Println(string(out), err)
	// Output:
	// 1/3
	// 2/3
	// 3/3
	// counted <nil>
}

// WithRunAt schedules a background job; a foreground job cannot wait.
func ExampleWithRunAt() {
	srv := exampleServer()
	defer srv.Stop()
	c := exampleClient(srv.Addr())
	defer c.Close()
	ctx := context.Background()

	at := time.Now().Add(time.Hour)
	_, err := c.SubmitBackground(ctx, "reminder", []byte("stand up"), gearman.WithRunAt(at))
	fmt.Println(err)
	_, err = c.Call(ctx, "reminder", nil, gearman.WithRunAt(at))
	fmt.Println(err)
	// Output:
	// <nil>
	// gearman: submit reminder: WithRunAt needs a background job
}

// Wait gives up when ctx ends; the job stays queued at the job server.
func ExampleTask_Wait() {
	srv := exampleServer()
	defer srv.Stop()
	c := exampleClient(srv.Addr())
	defer c.Close()

	t, err := c.Submit(context.Background(), "nobody.serves.this", nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = t.Wait(ctx)
	fmt.Println(err)
	// Output: context deadline exceeded
}

// Dispatch with WithDeferredWrite queues jobs without writing them; Flush
// sends them together, in one system call.
func ExampleWithDeferredWrite() {
	srv := exampleServer()
	defer srv.Stop()
	w := exampleWorker(srv.Addr(), "upper", func(_ context.Context, job *gearman.Job) ([]byte, error) {
		return bytes.ToUpper(job.Data), nil
	})
	defer w.Close()
	c := exampleClient(srv.Addr())
	defer c.Close()
	ctx := context.Background()

	var tasks []*gearman.Task
	for _, word := range []string{"one", "write", "for", "all"} {
		t, err := c.Dispatch(ctx, "upper", []byte(word), gearman.WithDeferredWrite())
		if err != nil {
			log.Fatal(err)
		}
		tasks = append(tasks, t)
	}
	c.Flush() // before waiting: the jobs are still queued here
	for _, t := range tasks {
		out, err := t.Wait(ctx)
		fmt.Println(string(out), err)
	}
	// Output:
	// ONE <nil>
	// WRITE <nil>
	// FOR <nil>
	// ALL <nil>
}

// Flush writes what Dispatch queued with WithDeferredWrite; with nothing
// queued it does nothing.
func ExampleClient_Flush() {
	srv := exampleServer()
	defer srv.Stop()
	c := exampleClient(srv.Addr())
	defer c.Close()

	c.Flush()
	out, err := c.Echo(context.Background(), []byte("still fine"))
	fmt.Println(string(out), err)
	// Output: still fine <nil>
}
