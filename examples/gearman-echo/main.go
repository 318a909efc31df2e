// Command gearman-echo shows the gearman package on its own: it starts a
// job server on a free loopback port (or uses -addr), a worker serving
// "hex" and "fail", submits jobs from many goroutines and prints what
// comes back, including a remote error.
//
//	go run ./examples/gearman-echo [-addr host:port] [-n 10]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/gearmand"
)

func main() {
	log.SetFlags(0)
	addr := flag.String("addr", "", "job server host:port (default: start a local gearmand)")
	n := flag.Int("n", 10, "how many numbers to send through hex")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *n); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, addr string, n int) error {
	if addr == "" {
		srv, err := gearmand.Start(ctx, gearmand.Options{})
		if err != nil {
			return err
		}
		defer srv.Stop()
		addr = srv.Addr()
		fmt.Printf("started gearmand on %s\n", addr)
	}

	w, err := gearman.NewWorker([]string{addr}, gearman.WithClientID("gearman-echo-worker"))
	if err != nil {
		return err
	}
	w.Register("hex", func(_ context.Context, job *gearman.Job) ([]byte, error) {
		i, err := strconv.ParseInt(string(job.Data), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("hex wants an integer: %w", err)
		}
		return []byte("0x" + strconv.FormatInt(i, 16)), nil
	})
	go w.Run()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		w.Shutdown(sctx)
	}()

	c, err := gearman.NewClient(ctx, []string{addr})
	if err != nil {
		return err
	}
	defer c.Close()

	results := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := c.Call(ctx, "hex", []byte(strconv.Itoa(i+1)))
			results[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Printf("hex over %d jobs in %v: %v\n", n, time.Since(start).Round(time.Millisecond), results)

	_, err = c.Call(ctx, "hex", []byte("not a number"))
	var ex *gearman.JobException
	if !errors.As(err, &ex) {
		return fmt.Errorf("expected a remote error, got %v", err)
	}
	fmt.Printf("remote error reaches the caller: %s\n", ex.Data)
	return nil
}
