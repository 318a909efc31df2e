package gearman_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
)

// exampleAdmin returns an Admin of the job server at addr.
func exampleAdmin(addr string) *gearman.Admin {
	a, err := gearman.DialAdmin(context.Background(), addr)
	if err != nil {
		log.Fatal(err)
	}
	return a
}

// DialAdmin connects to a job server's administrative port, which is its
// Gearman port.
func ExampleDialAdmin() {
	srv := exampleServer()
	defer srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	a, err := gearman.DialAdmin(ctx, srv.Addr(), gearman.WithRequestTimeout(2*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	v, err := a.Version(ctx)
	fmt.Println(v != "", err)
	// Output: true <nil>
}

// Calls after Close fail with an error wrapping net.ErrClosed.
func ExampleAdmin_Close() {
	srv := exampleServer()
	defer srv.Stop()
	a := exampleAdmin(srv.Addr())
	a.Close()
	_, err := a.Status(context.Background())
	fmt.Println(err)
	// Output: gearman: admin "status": admin closed: use of closed network connection
}

// Print the queue of every function a job server knows.
func ExampleAdmin_Status() {
	srv := exampleServer()
	defer srv.Stop()
	c := exampleClient(srv.Addr())
	defer c.Close()
	ctx := context.Background()
	for range 2 {
		if _, err := c.SubmitBackground(ctx, "resize.image", nil); err != nil {
			log.Fatal(err)
		}
	}
	a := exampleAdmin(srv.Addr())
	defer a.Close()

	st, err := a.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range st {
		fmt.Printf("%s: %d queued, %d running, %d workers\n", s.Name, s.Queued, s.Running, s.Workers)
	}
	// Output: resize.image: 2 queued, 0 running, 0 workers
}

// PriorityStatus counts the waiting jobs of each priority.
func ExampleAdmin_PriorityStatus() {
	srv := exampleServer()
	defer srv.Stop()
	c := exampleClient(srv.Addr())
	defer c.Close()
	ctx := context.Background()
	for _, p := range []gearman.Priority{gearman.PriorityHigh, gearman.PriorityLow, gearman.PriorityLow} {
		if _, err := c.SubmitBackground(ctx, "index", nil, gearman.WithPriority(p)); err != nil {
			log.Fatal(err)
		}
	}
	a := exampleAdmin(srv.Addr())
	defer a.Close()

	st, err := a.PriorityStatus(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range st {
		fmt.Printf("%s: high %d, normal %d, low %d\n", s.Name, s.High, s.Normal, s.Low)
	}
	// Output: index: high 1, normal 0, low 2
}

// Workers lists every connection, with the functions each registered.
func ExampleAdmin_Workers() {
	srv := exampleServer()
	defer srv.Stop()
	w := exampleWorker(srv.Addr(), "ocr", func(context.Context, *gearman.Job) ([]byte, error) { return nil, nil })
	defer w.Close()
	a := exampleAdmin(srv.Addr())
	defer a.Close()

	ws, err := a.Workers(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, wi := range ws {
		if len(wi.Functions) > 0 {
			fmt.Println(wi.Addr, wi.Functions)
		}
	}
	// Output: 127.0.0.1 [ocr]
}

// Jobs lists the jobs a server holds.
func ExampleAdmin_Jobs() {
	srv := exampleServer()
	defer srv.Stop()
	c := exampleClient(srv.Addr())
	defer c.Close()
	ctx := context.Background()
	h, err := c.SubmitBackground(ctx, "archive", nil)
	if err != nil {
		log.Fatal(err)
	}
	a := exampleAdmin(srv.Addr())
	defer a.Close()

	jobs, err := a.Jobs(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, j := range jobs {
		fmt.Println(j.Handle == h.Handle, j.Retries, j.Ignored)
	}
	// Output: true 0 false
}

// UniqueJobs lists the unique id of every job a server holds.
func ExampleAdmin_UniqueJobs() {
	srv := exampleServer()
	defer srv.Stop()
	c := exampleClient(srv.Addr())
	defer c.Close()
	ctx := context.Background()
	if _, err := c.SubmitBackground(ctx, "archive", nil, gearman.WithUnique("invoice-1042")); err != nil {
		log.Fatal(err)
	}
	a := exampleAdmin(srv.Addr())
	defer a.Close()

	jobs, err := a.UniqueJobs(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, j := range jobs {
		fmt.Println(j.Unique)
	}
	// Output: invoice-1042
}

// Version, PID and Verbose identify the server.
func ExampleAdmin_Version() {
	srv := exampleServer()
	defer srv.Stop()
	a := exampleAdmin(srv.Addr())
	defer a.Close()
	v, err := a.Version(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Count(v, ".") >= 2) // such as "1.1.20+ds"
	// Output: true
}

// PID returns the job server's process id.
func ExampleAdmin_PID() {
	srv := exampleServer()
	defer srv.Stop()
	a := exampleAdmin(srv.Addr())
	defer a.Close()
	pid, err := a.PID(context.Background())
	fmt.Println(pid == srv.Pid(), err)
	// Output: true <nil>
}

// Verbose returns the job server's log level.
func ExampleAdmin_Verbose() {
	srv := exampleServer() // started with --verbose=INFO
	defer srv.Stop()
	a := exampleAdmin(srv.Addr())
	defer a.Close()
	v, err := a.Verbose(context.Background())
	fmt.Println(v, err)
	// Output: INFO <nil>
}

// Limit the queue of a function: a submission over it is refused.
func ExampleAdmin_MaxQueue() {
	srv := exampleServer()
	defer srv.Stop()
	ctx := context.Background()
	a := exampleAdmin(srv.Addr())
	defer a.Close()

	// gearmand ignores maxqueue for a function it does not know yet.
	if err := a.CreateFunction(ctx, "resize.image"); err != nil {
		log.Fatal(err)
	}
	if err := a.MaxQueue(ctx, "resize.image", 1); err != nil {
		log.Fatal(err)
	}
	c := exampleClient(srv.Addr())
	defer c.Close()
	for _, img := range []string{"a.png", "b.png"} {
		_, err := c.SubmitBackground(ctx, "resize.image", []byte(img))
		var se *gearman.ServerError
		fmt.Println(img, errors.As(err, &se))
	}
	// Output:
	// a.png false
	// b.png true
}

// CreateFunction makes a function known before any job or worker names it.
func ExampleAdmin_CreateFunction() {
	srv := exampleServer()
	defer srv.Stop()
	ctx := context.Background()
	a := exampleAdmin(srv.Addr())
	defer a.Close()
	if err := a.CreateFunction(ctx, "reports"); err != nil {
		log.Fatal(err)
	}
	st, err := a.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(st), st[0].Name)
	// Output: 1 reports
}

// DropFunction removes a function nobody serves.
func ExampleAdmin_DropFunction() {
	srv := exampleServer()
	defer srv.Stop()
	ctx := context.Background()
	a := exampleAdmin(srv.Addr())
	defer a.Close()
	if err := a.CreateFunction(ctx, "legacy"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.DropFunction(ctx, "legacy"))
	err := a.DropFunction(ctx, "legacy")
	var ae *gearman.AdminError
	if errors.As(err, &ae) {
		fmt.Println(ae.Message)
	}
	// Output:
	// <nil>
	// function not found
}
