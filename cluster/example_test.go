package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs" // registers examples.square and others
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// A program with no config file starts a local cluster and uses its pool;
// the workers serve every function registered in the program.
func ExampleStartLocal() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err) // e.g. gearmand is not installed: the error says which package to install
	}
	defer local.Close()

	hexes, err := pool.Map(ctx, local.Pool(), funcs.Hex, []int64{1, 2, 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(hexes)
	// Output: [0x1 0x2 0x3]
}

// A worker runtime of your own, next to a cluster's: it serves the
// functions that config.Worker.Functions names, with Slots chunks at once,
// until Shutdown (drain) or Close (at once).
func ExampleNewWorker() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	w, err := cluster.NewWorker(local.Config(), config.Worker{Slots: 2, Functions: []string{"examples.square"}},
		cluster.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()

	squares, err := pool.Map(ctx, local.Pool(), funcs.Square, []int64{1, 2, 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(squares, w.Slots(), w.Functions())
	st := w.Stats()
	fmt.Println(st.WorkerID == w.ID(), st.Slots, st.Active)

	// Shutdown lets the running chunks finish; Run then returns
	// ErrWorkerClosed, and a Worker runs once.
	if err := w.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(errors.Is(<-ran, cluster.ErrWorkerClosed), errors.Is(w.Run(), cluster.ErrWorkerRunning))
	// Output:
	// [1 4 9] 2 [examples.square]
	// true 2 0
	// true true
}

// Close stops a worker at once: the job servers give the chunks it was
// running to other workers.
func ExampleWorker_Close() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	w, err := cluster.NewWorker(local.Config(), config.Worker{Slots: 1}, cluster.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	w.Close()
	fmt.Println(errors.Is(<-ran, cluster.ErrWorkerClosed))
	// Output: true
}

// StartLocalWith takes the worker's config and where the cluster logs. A
// program that acts on the broadcast commands quit and restart sets
// ObeyStops and reads StopRequested; RestartWorker replaces the worker.
func ExampleStartLocalWith() {
	ctx := context.Background()
	local, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{
		Worker: config.Worker{Slots: 2, Functions: []string{"examples.hex"}},
		Log:    io.Discard,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	fmt.Println(local.Worker().Slots(), local.Worker().Functions(), local.Config().HasBroker())

	old := local.Worker().ID()
	if err := local.RestartWorker(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("new worker:", local.Worker().ID() != old)

	hexes, err := pool.Map(ctx, local.Pool(), funcs.Hex, []int64{10, 255})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(hexes)
	if err := local.Close(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 2 [examples.hex] true
	// new worker: true
	// [0xa 0xff]
}

// With ObeyStops the local worker takes the broadcast commands quit and
// restart (glimpse-cluster quit, or Pool.Broadcast) and hands them to the
// program, which decides what to do.
func ExampleLocal_StopRequested() {
	ctx := context.Background()
	local, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{Worker: config.Worker{Slots: 1}, Log: io.Discard, ObeyStops: true})
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	replies, err := local.Pool().Broadcast(ctx, pool.NewCommand(pool.CommandRestart, 5*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(replies), replies[0].Error == "")
	req := <-local.StopRequested()
	fmt.Println("restart:", req.Restart)
	// Output:
	// 1 true
	// restart: true
}

// WithFunctions serves the functions given instead of the registry: a
// subset of it, or functions that are not registered at all.
func ExampleWithFunctions() {
	square, _ := wire.Lookup("examples.square")
	w, err := cluster.NewWorker(config.Client{JobServers: []string{"127.0.0.1:4730"}}, config.Worker{Slots: 1},
		cluster.WithFunctions(square), cluster.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	fmt.Println(w.Functions())
	// Output: [examples.square]
}
