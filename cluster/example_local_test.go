package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/pool"
)

// SlowSquare takes 200ms an item, or until its context ends: long enough
// for the examples to act while a chunk runs.
var SlowSquare = pool.Register("doc.slowsquare", func(ctx context.Context, x int64) (int64, error) {
	select {
	case <-time.After(200 * time.Millisecond):
		return x * x, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
})

// waitSlots waits, up to 10s, until the job servers list slots worker
// slots for function f: until a worker just started serves it.
func waitSlots(ctx context.Context, local *cluster.Local, f string, slots int) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if n, _ := local.Pool().WorkerSlots(ctx, f); n == slots {
			return
		}
	}
	log.Fatalf("%s: not %d slots within 10s", f, slots)
}

// waitActive waits, up to 10s, until w runs a chunk.
func waitActive(w *cluster.Worker) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if w.Stats().Active > 0 {
			return
		}
	}
	log.Fatal("no chunk started within 10s")
}

// startWorker makes a worker of its own next to local's, serving
// functions, and runs it; the channel gets what Run returns.
func startWorker(local *cluster.Local, slots int, functions ...string) (*cluster.Worker, chan error) {
	w, err := cluster.NewWorker(local.Config(), config.Worker{Slots: slots, Functions: functions},
		cluster.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	return w, ran
}

func ExampleLocal_Pool() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// The pool is the program's handle on the local cluster, as
	// pool.FromConfigFile gives one on a real cluster.
	p := local.Pool()
	squares, err := pool.Map(ctx, p, funcs.Square, []int64{4, 5})
	fmt.Println(squares, err)
	// Output: [16 25] <nil>
}

func ExampleLocal_Config() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// Other programs join the local cluster with its configuration: here a
	// second client.
	cfg := local.Config()
	fmt.Println(len(cfg.JobServers), cfg.HasBroker(), cfg.Validate())
	p, err := pool.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	hexes, err := pool.Map(ctx, p, funcs.Hex, []int64{4096})
	fmt.Println(hexes, err)
	// Output:
	// 1 true <nil>
	// [0x1000] <nil>
}

func ExampleLocal_Close() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	// Close drains the worker, then stops gearmand and the broker; its
	// pool is closed too. A second Close returns the first one's result.
	fmt.Println(local.Close(), local.Close())
	_, err = pool.Map(ctx, local.Pool(), funcs.Square, []int64{1})
	fmt.Println(errors.Is(err, pool.ErrClosed))
	// Output:
	// <nil> <nil>
	// true
}

func ExampleLocal_Worker() {
	ctx := context.Background()
	local, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{
		Worker: config.Worker{Slots: 3, Functions: []string{"examples.square", "examples.hex"}},
		Log:    io.Discard,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	w := local.Worker()
	fmt.Println(w.Slots(), w.Functions())
	// Output: 3 [examples.square examples.hex]
}

func ExampleLocal_RestartWorker() {
	ctx := context.Background()
	local, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{Worker: config.Worker{Slots: 1}, Log: io.Discard})
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	if _, err := pool.Map(ctx, local.Pool(), funcs.Square, []int64{1, 2}, pool.Chunksize(1)); err != nil {
		log.Fatal(err)
	}
	before := local.Worker().Stats()

	// The old worker drains; the new one has a new id and fresh counters.
	if err := local.RestartWorker(ctx); err != nil {
		log.Fatal(err)
	}
	after := local.Worker().Stats()
	fmt.Println(before.Requests, after.Requests, after.WorkerID != before.WorkerID)
	squares, err := pool.Map(ctx, local.Pool(), funcs.Square, []int64{3})
	fmt.Println(squares, err)
	// Output:
	// 2 0 true
	// [9] <nil>
}

func ExampleWorker_Run() {
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

	// Run serves until Shutdown or Close, and always returns an error:
	// ErrWorkerClosed after a clean stop.
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	if err := w.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(errors.Is(<-ran, cluster.ErrWorkerClosed))
	// Output: true
}

func ExampleWorker_Shutdown() {
	ctx := context.Background()
	local, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{
		Worker: config.Worker{Slots: 1, Functions: []string{"examples.hex"}}, // not doc.slowsquare
		Log:    io.Discard,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	w, ran := startWorker(local, 1, SlowSquare.Name())
	waitSlots(ctx, local, SlowSquare.Name(), 1)

	// Shutdown while a chunk runs: the worker takes no new chunk, lets the
	// running one finish and deliver its result, then Run returns.
	done := make(chan []int64)
	go func() {
		squares, err := pool.Map(ctx, local.Pool(), SlowSquare, []int64{7})
		if err != nil {
			log.Fatal(err)
		}
		done <- squares
	}()
	waitActive(w)
	drainCtx, cancel := context.WithTimeout(ctx, 10*time.Second) // bounds the drain
	defer cancel()
	fmt.Println(w.Shutdown(drainCtx))
	fmt.Println(<-done, errors.Is(<-ran, cluster.ErrWorkerClosed))
	// Output:
	// <nil>
	// [49] true
}

func ExampleWorker_Stats() {
	ctx := context.Background()
	local, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{
		Worker: config.Worker{Slots: 1, Functions: []string{"examples.hex"}},
		Log:    io.Discard,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	w, ran := startWorker(local, 2, SlowSquare.Name())
	defer func() { w.Close(); <-ran }()
	waitSlots(ctx, local, SlowSquare.Name(), 2)

	// A snapshot while a chunk runs, and one after: what a ping shows.
	done := make(chan error)
	go func() {
		_, err := pool.Map(ctx, local.Pool(), SlowSquare, []int64{3})
		done <- err
	}()
	waitActive(w)
	st := w.Stats()
	fmt.Println(st.WorkerID == w.ID(), st.Slots, st.Active, st.Requests, st.Functions, st.Uptime() > 0)
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	st = w.Stats()
	fmt.Println(st.Active, st.Requests, st.MeanBusy() >= 200*time.Millisecond)
	// Output:
	// true 2 1 0 [doc.slowsquare] true
	// 0 1 true
}

func ExampleWorker_ID() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	w, ran := startWorker(local, 1, "examples.square")
	defer func() { w.Close(); <-ran }()
	waitSlots(ctx, local, "examples.square", 2) // the local worker's slot and this one

	// The id is what commands target and what ping replies carry: it
	// starts with the host name and the process id.
	fmt.Println(strings.HasPrefix(w.ID(), w.Stats().Host+"-"))
	s := pingUntil(ctx, local, w.ID())
	fmt.Println("ping:", s.Functions)
	// Output:
	// true
	// ping: [examples.square]
}

// pingUntil pings, up to 10s, until the worker with this id answers: a new
// worker answers once it has joined the command queue.
func pingUntil(ctx context.Context, local *cluster.Local, id string) pool.WorkerStats {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		stats, err := local.Pool().Ping(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, s := range stats {
			if s.WorkerID == id {
				return s
			}
		}
	}
	log.Fatalf("worker %s: no ping reply within 10s", id)
	return pool.WorkerStats{}
}

func ExampleWorker_Slots() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	w, ran := startWorker(local, 4, "examples.square")
	defer func() { w.Close(); <-ran }()
	waitSlots(ctx, local, "examples.square", 5)

	// The slots are announced to the job servers: the pool sizes its
	// chunks by the slots that serve a function.
	slots, err := local.Pool().WorkerSlots(ctx, "examples.square")
	fmt.Println(w.Slots(), slots, err) // 4 here and 1 in the local worker
	// Output: 4 5 <nil>
}

func ExampleWorker_Functions() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// The names config.Worker.Functions gives; empty means every function
	// the binary registers.
	w, err := cluster.NewWorker(local.Config(), config.Worker{Functions: []string{"examples.wordcount", "examples.hex"}},
		cluster.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	fmt.Println(w.Functions())
	// Output: [examples.wordcount examples.hex]
}

func ExampleWorker_StopRequested() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	w, ran := startWorker(local, 1, "examples.square")
	pingUntil(ctx, local, w.ID()) // it takes commands

	// A quit for this worker only (glimpse-cluster quit WORKER_ID): the
	// program decides what to do, here drain and exit.
	cmd := pool.NewCommand(pool.CommandQuit, 10*time.Second, w.ID())
	replies, err := local.Pool().Broadcast(ctx, cmd)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d reply, from it: %v, error %q\n", len(replies), replies[0].Worker == w.ID(), replies[0].Error)
	select {
	case req := <-w.StopRequested():
		fmt.Println(req.Command == cmd.ID, req.Restart)
	case <-time.After(10 * time.Second):
		log.Fatal("no stop request within 10s")
	}
	if err := w.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(errors.Is(<-ran, cluster.ErrWorkerClosed))
	// Output:
	// 1 reply, from it: true, error ""
	// true false
	// true
}

func ExampleWithLogger() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// The worker logs as the program says: here text without the time and
	// the worker's id, which change from run to run.
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.LevelKey, slog.MessageKey, "slots", "functions":
				return a
			}
			return slog.Attr{}
		},
	}))
	w, err := cluster.NewWorker(local.Config(), config.Worker{Slots: 2, Functions: []string{"examples.square"}},
		cluster.WithLogger(logger))
	if err != nil {
		log.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	// Wait until the job servers list its 2 slots beside the local
	// worker's 1: it has logged that it serves by then.
	for {
		if n, err := local.Pool().WorkerSlots(ctx, funcs.Square.Name()); err == nil && n >= 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.Shutdown(ctx)
	<-ran
	// The log has the job server connections' events too, such as a
	// warning when one cannot be reached; show the worker's own lines.
	for line := range strings.Lines(buf.String()) {
		if strings.Contains(line, `msg="worker `) {
			fmt.Print(line)
		}
	}
	// Output: level=INFO msg="worker serving" slots=2 functions=examples.square
}

func ExampleUnknownFunctionsError() {
	// A [worker] functions key with a typo: the worker refuses to start
	// and names what the binary registers.
	_, err := cluster.NewWorker(config.Client{JobServers: []string{"127.0.0.1:4730"}},
		config.Worker{Functions: []string{"examples.sqaure"}})
	var uf *cluster.UnknownFunctionsError
	if errors.As(err, &uf) {
		fmt.Println(uf.Names)
	}
	// Output: [examples.sqaure]
}

func ExampleUnknownFunctionsError_Error() {
	err := &cluster.UnknownFunctionsError{Names: []string{"glimpse.examples.hex"}, Registered: []string{"examples.hex", "examples.square"}}
	fmt.Println(err)
	// Output: unknown function "glimpse.examples.hex" (did you mean examples.hex?): this binary registers examples.hex, examples.square
}

// A worker's metrics (metrics.NewWorkerCollector exports them): here
// after a map of 100 items in chunks of 10.
func ExampleWorker_Metrics() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	local.Worker().Metrics() // counts from here on
	if _, err := pool.Map(ctx, local.Pool(), funcs.Square, make([]int64, 100), pool.Chunksize(10)); err != nil {
		log.Fatal(err)
	}
	m := local.Worker().Metrics()
	for _, f := range m.Functions {
		if f.Function == funcs.Square.Name() {
			fmt.Println(f.Chunks, f.Items, f.ItemSeconds.Count, f.ChunksFailed)
		}
	}
	fmt.Println(m.Slots, m.SlotsBusy)
	// Output:
	// 10 100 100 0
	// 2 0
}

// A program that stops exporting a worker's metrics stops their counting:
// the map after StopMetrics is not counted, and the next Metrics call
// counts from zero.
func ExampleWorker_StopMetrics() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	w := local.Worker()
	w.Metrics() // counts from here on
	square := func(n int) {
		if _, err := pool.Map(ctx, local.Pool(), funcs.Square, make([]int64, n), pool.Chunksize(10)); err != nil {
			log.Fatal(err)
		}
	}
	squareItems := func(m cluster.WorkerMetrics) uint64 {
		for _, f := range m.Functions {
			if f.Function == funcs.Square.Name() {
				return f.Items
			}
		}
		return 0
	}
	square(100)
	fmt.Println(squareItems(w.Metrics()))
	w.StopMetrics()
	square(50)
	fmt.Println(squareItems(w.Metrics())) // counts again from here on
	square(30)
	fmt.Println(squareItems(w.Metrics()))
	// Output:
	// 100
	// 0
	// 30
}
