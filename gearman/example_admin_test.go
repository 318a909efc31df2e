package gearman_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
)

// Print the queue of every function a job server knows.
func ExampleAdmin_Status() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	a, err := gearman.DialAdmin(ctx, "127.0.0.1:4730")
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()

	st, err := a.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range st {
		fmt.Printf("%s: %d queued, %d running, %d workers\n", s.Name, s.Queued, s.Running, s.Workers)
	}
}

// Limit the queue of a function, and cancel a job that is not running yet.
func ExampleAdmin_MaxQueue() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	a, err := gearman.DialAdmin(ctx, "127.0.0.1:4730")
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()

	// gearmand ignores maxqueue for a function it does not know yet.
	if err := a.CreateFunction(ctx, "resize.image"); err != nil {
		log.Fatal(err)
	}
	if err := a.MaxQueue(ctx, "resize.image", 1000); err != nil {
		log.Fatal(err)
	}

	err = a.CancelJob(ctx, "H:example:42")
	var ae *gearman.AdminError
	if errors.As(err, &ae) && ae.Code == "UNKNOWN_JOB" {
		fmt.Println("no such job")
	} else if err != nil {
		log.Fatal(err)
	}
}
