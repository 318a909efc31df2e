package gearman_test

import (
	"bytes"
	"context"
	"fmt"
	"log"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/gearmand"
)

func Example() {
	ctx := context.Background()
	// A throwaway job server on a free loopback port.
	srv, err := gearmand.Start(ctx, gearmand.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()

	w, err := gearman.NewWorker([]string{srv.Addr()}, gearman.WithConcurrency(4))
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
	out, err := c.Call(ctx, "upper", []byte("hello, gearman"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(out))
	// Output: HELLO, GEARMAN
}
