package gearman_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/glimpse-go/glimpse/gearman"
)

// A job function that panics fails its job with the panic and its stack
// (the text of a *PanicError); the worker goes on.
func ExamplePanicError() {
	srv := exampleServer()
	defer srv.Stop()
	w := exampleWorker(srv.Addr(), "fragile", func(_ context.Context, job *gearman.Job) ([]byte, error) {
		if len(job.Data) == 0 {
			panic("no input")
		}
		return job.Data, nil
	})
	defer w.Close()
	c := exampleClient(srv.Addr())
	defer c.Close()

	_, err := c.Call(context.Background(), "fragile", nil)
	var ex *gearman.JobException
	if errors.As(err, &ex) {
		first, _, _ := strings.Cut(string(ex.Data), "\n")
		fmt.Println(first)
	}
	out, err := c.Call(context.Background(), "fragile", []byte("still serving"))
	fmt.Println(string(out), err)

	// The worker recovers it as a *PanicError; its Error is what goes on
	// the wire.
	pe := &gearman.PanicError{Value: "no input", Stack: []byte("goroutine 7 [running]: ...")}
	fmt.Printf("%q\n", pe.Error())
	// Output:
	// panic: no input
	// still serving <nil>
	// "panic: no input\n\ngoroutine 7 [running]: ..."
}

// A job server refuses a submission over a function's queue limit with an
// ERROR packet: a *ServerError.
func ExampleServerError() {
	srv := exampleServer()
	defer srv.Stop()
	ctx := context.Background()
	a, err := gearman.DialAdmin(ctx, srv.Addr())
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateFunction(ctx, "mail"); err != nil {
		log.Fatal(err)
	}
	if err := a.MaxQueue(ctx, "mail", 1); err != nil {
		log.Fatal(err)
	}
	c := exampleClient(srv.Addr())
	defer c.Close()

	_, err = c.SubmitBackground(ctx, "mail", []byte("first"))
	fmt.Println(err)
	_, err = c.SubmitBackground(ctx, "mail", []byte("second"))
	var se *gearman.ServerError
	if errors.As(err, &se) {
		fmt.Println(se.Request, se.Code)
	}
	// Output:
	// <nil>
	// SUBMIT_JOB_BG QUEUE_ERROR
}

// A job cancelled at the job server ends with ErrJobFailed (WORK_FAIL).
func ExampleAdmin_CancelJob() {
	srv := exampleServer()
	defer srv.Stop()
	ctx := context.Background()
	c := exampleClient(srv.Addr())
	defer c.Close()
	t, err := c.Submit(ctx, "never.served", nil)
	if err != nil {
		log.Fatal(err)
	}
	a, err := gearman.DialAdmin(ctx, srv.Addr())
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()

	if err := a.CancelJob(ctx, t.Handle().Handle); err != nil {
		log.Fatal(err)
	}
	_, err = t.Wait(ctx)
	fmt.Println(errors.Is(err, gearman.ErrJobFailed))

	err = a.CancelJob(ctx, "H:nosuch:1")
	var ae *gearman.AdminError
	if errors.As(err, &ae) {
		fmt.Println(ae.Code)
	}
	// Output:
	// true
	// UNKNOWN_JOB
}
