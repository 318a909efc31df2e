package gearman_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"time"

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

// A "job server" that accepts connections and never answers: NewClient
// gives up after the request timeout, with an error naming the server and
// what never came.
func ExampleWithRequestTimeout() {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // the kernel accepts; nobody answers
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()

	_, err = gearman.NewClient(context.Background(), []string{ln.Addr().String()},
		gearman.WithRequestTimeout(100*time.Millisecond))
	var te *gearman.TimeoutError
	if errors.As(err, &te) {
		fmt.Printf("no %s within %v\n", te.Waiting, te.After)
	}
	// Output: no OPTION_RES for OPTION_REQ exceptions within 100ms
}
