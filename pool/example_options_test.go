package pool_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/pool"
)

// Echo returns its input: a payload of a chosen size.
var Echo = pool.Register("doc.echo", func(_ context.Context, s string) (string, error) {
	return s, nil
})

// Nap sleeps for its input, or until its context ends: a slow item.
var Nap = pool.Register("doc.nap", func(ctx context.Context, d time.Duration) (time.Duration, error) {
	select {
	case <-time.After(d):
		return d, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
})

// flakyCalls counts Flaky's calls; the worker of cluster.StartLocal runs in
// this process, so the examples can read it.
var flakyCalls atomic.Int64

// Flaky fails its first call and succeeds after: a transient failure, such
// as a database that is briefly unreachable.
var Flaky = pool.Register("doc.flaky", func(_ context.Context, x int) (int, error) {
	if flakyCalls.Add(1) == 1 {
		return 0, errors.New("database busy")
	}
	return x, nil
})

func ExampleRegister() {
	// Register at package level (var Cube = pool.Register("doc.cube", ...)
	// in example_test.go), in a package that the client program and the
	// worker binary both import; maps then name the function by Cube.
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	cubes, err := pool.Map(ctx, local.Pool(), Cube, []int{5, 6})
	fmt.Println(Cube.Name(), cubes, err)
	// Output: doc.cube [125 216] <nil>
}

func ExampleFunc_Call() {
	// Call runs the function here, with no cluster: for unit tests of the
	// function, or for a few items not worth a map.
	c, err := Cube.Call(context.Background(), 3)
	fmt.Println(c, err)
	_, err = Cube.Call(context.Background(), -3)
	fmt.Println(err)
	// Output:
	// 27 <nil>
	// negative input -3
}

func ExampleFunc_Name() {
	// The name is what travels on the wire and what a worker's
	// [worker] functions key lists.
	fmt.Println(Cube.Name(), Distance.Name())
	// Output: doc.cube doc.distance
}

func ExampleFromConfigFile() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2) // stands in for a running cluster
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	dir, err := os.MkdirTemp("", "pool-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "config.ini")
	text := "[client]\njob_server_url = " + strings.Join(local.Config().JobServers, ",") + "\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		log.Fatal(err)
	}

	// What a client program does with its -c flag.
	p, err := pool.FromConfigFile(path)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	cubes, err := pool.Map(ctx, p, Cube, []int{1, 2, 3})
	fmt.Println(cubes, err)
	// Output: [1 8 27] <nil>
}

func ExampleChunksize() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// Ten items in chunks of five: two Gearman jobs. Progress is called
	// once per chunk.
	chunks := 0
	cubes, err := pool.Map(ctx, local.Pool(), Cube, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
		pool.Chunksize(5), pool.Progress(func(done, total int) { chunks++ }))
	fmt.Println(cubes, err, chunks)
	// Output: [1 8 27 64 125 216 343 512 729 1000] <nil> 2
}

func ExampleProgress() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	report := func(done, total int) { fmt.Printf("%d/%d\n", done, total) }
	_, err = pool.Map(ctx, local.Pool(), Cube, []int{1, 2, 3, 4, 5, 6}, pool.Chunksize(2), pool.Progress(report))
	fmt.Println(err)
	// Output:
	// 2/6
	// 4/6
	// 6/6
	// <nil>
}

func ExamplePriority() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// An interactive request jumps ahead of the chunks of batch maps
	// queued at Normal or Low priority on the same job servers.
	cubes, err := pool.Map(ctx, local.Pool(), Cube, []int{7}, pool.Priority(pool.High))
	fmt.Println(cubes, err)
	// Output: [343] <nil>
}

func ExampleWindow() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// At most four chunks of 100 items are in flight or waiting to be
	// read, however long the input: memory stays bounded.
	sum := 0
	for c, err := range pool.Imap(ctx, local.Pool(), Cube, countTo(1000), pool.Chunksize(100), pool.Window(4)) {
		if err != nil {
			log.Fatal(err)
		}
		sum += c
	}
	fmt.Println(sum)
	// Output: 250500250000
}

// countTo yields 1..n, read lazily by Imap.
func countTo(n int) func(yield func(int) bool) {
	return func(yield func(int) bool) {
		for i := 1; i <= n; i++ {
			if !yield(i) {
				return
			}
		}
	}
}

func ExampleTaskTimeout() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// The second item would run for a minute; its deadline ends it.
	_, err = pool.Map(ctx, local.Pool(), Nap, []time.Duration{time.Millisecond, time.Minute},
		pool.Chunksize(1), pool.TaskTimeout(100*time.Millisecond))
	var te *pool.TaskError
	if errors.As(err, &te) {
		fmt.Println("item", te.Index, "timed out:", te.Timeout)
	}
	// Output: item 1 timed out: true
}

func ExampleRetryTaskErrors() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// By default the function's own error is final...
	flakyCalls.Store(0)
	_, err = pool.Map(ctx, local.Pool(), Flaky, []int{42})
	fmt.Println(err != nil, flakyCalls.Load())

	// ...with RetryTaskErrors it is retried, up to Retries times.
	flakyCalls.Store(0)
	got, err := pool.Map(ctx, local.Pool(), Flaky, []int{42}, pool.RetryTaskErrors())
	fmt.Println(got, err, flakyCalls.Load())
	// Output:
	// true 1
	// [42] <nil> 2
}

func ExampleRetries() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// Retries(0): one attempt only, so the transient failure is final.
	flakyCalls.Store(0)
	_, err = pool.Map(ctx, local.Pool(), Flaky, []int{42}, pool.Retries(0), pool.RetryTaskErrors())
	var te *pool.TaskError
	fmt.Println(errors.As(err, &te), te.Message)

	// Retries(1): a second attempt, which succeeds.
	flakyCalls.Store(0)
	got, err := pool.Map(ctx, local.Pool(), Flaky, []int{42}, pool.Retries(1), pool.RetryTaskErrors())
	fmt.Println(got, err)
	// Output:
	// true database busy
	// [42] <nil>
}

func ExampleCheckSilentChunks() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// Ask the job server about a chunk after 2s without news from it, so
	// that a chunk cancelled there is resubmitted within seconds.
	got, err := pool.Map(ctx, local.Pool(), Echo, []string{"a", "b"}, pool.CheckSilentChunks(2*time.Second))
	fmt.Println(got, err)
	// Output: [a b] <nil>
}

func ExampleWithMaxPacketSize() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	p, err := pool.New(local.Config(), pool.WithMaxPacketSize(1<<10))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	// A chunk over the limit fails the map before it is sent.
	_, err = pool.Map(ctx, p, Echo, []string{"small", strings.Repeat("x", 4<<10)}, pool.Chunksize(1))
	fmt.Println(err)
	// Output: pool: doc.echo: chunk 1 (items 1-1): gearman: submit glimpse.doc.echo: SUBMIT_JOB packet of 4154 bytes is over the 1024-byte limit
}

func ExampleWithDialTimeout() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	// A second job server that is down: its port refuses connections (one
	// on a dead host would not answer at all, for up to the dial timeout).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()

	// One reachable server is enough; each attempt at the other one
	// costs at most a second.
	cfg := config.Client{JobServers: append(local.Config().JobServers, down)}
	p, err := pool.New(cfg, pool.WithDialTimeout(time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	cubes, err := pool.Map(ctx, p, Cube, []int{1, 2})
	fmt.Println(cubes, err)

	// With no server reachable, New fails and says why.
	_, err = pool.New(config.Client{JobServers: []string{down}}, pool.WithDialTimeout(time.Second))
	fmt.Println(errors.Is(err, syscall.ECONNREFUSED))
	// Output:
	// [1 8] <nil>
	// true
}

func ExampleWithNoWorkersGrace() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// A client whose workers are redeployed one machine at a time waits
	// a minute, instead of 10s, for one to serve its function again.
	p, err := pool.New(local.Config(), pool.WithNoWorkersGrace(time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	cubes, err := pool.Map(ctx, p, Cube, []int{2, 4})
	fmt.Println(cubes, err)
	// Output: [8 64] <nil>
}

// messageLogger logs to buf at debug level, each record as its level and
// message only, so the output is stable.
func messageLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key != slog.LevelKey && a.Key != slog.MessageKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

func ExampleWithLogger() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	var buf bytes.Buffer
	p, err := pool.New(local.Config(), pool.WithLogger(messageLogger(&buf)))
	if err != nil {
		log.Fatal(err)
	}

	// Closing the pool under a running map cancels its chunks on the
	// workers; at debug level the pool says so.
	done := make(chan error)
	go func() {
		_, err := pool.Map(ctx, p, Nap, []time.Duration{time.Minute})
		done <- err
	}()
	waitActive(ctx, local)
	p.Close()
	fmt.Println(errors.Is(<-done, pool.ErrClosed))
	// The log has the connections to job servers too ("gearman:
	// connected"), as many as the pool opened, and New's warning that
	// this local cluster has no key; show the pool's own debug lines.
	for line := range strings.Lines(buf.String()) {
		if strings.Contains(line, `level=DEBUG msg="pool:`) {
			fmt.Print(line)
		}
	}
	// Output:
	// true
	// level=DEBUG msg="pool: cancel sent"
}

// waitActive waits until the local worker runs a chunk.
func waitActive(ctx context.Context, local *cluster.Local) {
	for {
		if local.Worker().Stats().Active > 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func ExamplePool_Close() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	p, err := pool.New(local.Config())
	if err != nil {
		log.Fatal(err)
	}

	// Close fails the maps still running with ErrClosed and cancels
	// their chunks on the workers; later maps fail at once.
	done := make(chan error)
	go func() {
		_, err := pool.Map(ctx, p, Nap, []time.Duration{time.Minute})
		done <- err
	}()
	waitActive(ctx, local)
	fmt.Println(p.Close())
	fmt.Println(errors.Is(<-done, pool.ErrClosed))
	_, err = pool.Map(ctx, p, Cube, []int{1})
	fmt.Println(errors.Is(err, pool.ErrClosed))
	// Output:
	// <nil>
	// true
	// true
}

func ExamplePool_Config() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// The configuration tells other programs how to join the cluster.
	cfg := local.Pool().Config()
	fmt.Println(len(cfg.JobServers), cfg.Validate())
	// Output: 1 <nil>
}
