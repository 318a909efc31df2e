package gearman_test

import (
	"context"
	"fmt"
	"log"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/gearmand"
)

// Dispatch sends jobs without a round trip each; they reach the job server
// in the order they were sent, so a worker with one slot runs them in it.
func ExampleClient_Dispatch() {
	ctx := context.Background()
	srv, err := gearmand.Start(ctx, gearmand.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()
	c, err := gearman.NewClient(ctx, []string{srv.Addr()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	var tasks []*gearman.Task
	for _, word := range []string{"one", "two", "three"} {
		t, err := c.Dispatch(ctx, "echo", []byte(word))
		if err != nil {
			log.Fatal(err)
		}
		tasks = append(tasks, t)
	}

	w, err := gearman.NewWorker([]string{srv.Addr()}, gearman.WithConcurrency(1))
	if err != nil {
		log.Fatal(err)
	}
	w.Register("echo", func(_ context.Context, job *gearman.Job) ([]byte, error) {
		fmt.Println("running", string(job.Data))
		return job.Data, nil
	})
	go w.Run()
	defer w.Shutdown(ctx)
	for _, t := range tasks {
		if _, err := t.Wait(ctx); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// running one
	// running two
	// running three
}
