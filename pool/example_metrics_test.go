package pool_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/pool"
)

func ExamplePool_Stats() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	pool.Map(ctx, local.Pool(), Cube, []int{1, 2, 3})
	s := local.Pool().Stats()
	fmt.Println(s.MapsStarted, s.MapsFinished, s.MapsFailed, s.ChunksInFlight)
	// Output: 1 1 0 0
}

// A program follows its workers' logs: here the warning of a chunk that
// failed.
func ExamplePool_Logs() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	local, err := cluster.StartLocal(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	records := local.Pool().Logs(ctx, pool.LogLevel(slog.LevelWarn), pool.LogWorkers("*"))
	go func() {
		// The subscription takes a moment to reach the broker: fail a
		// chunk until the warning comes.
		for ctx.Err() == nil {
			pool.Map(ctx, local.Pool(), Cube, []int{-1})
		}
	}()
	for rec, err := range records {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(rec.Level, rec.Message, rec.Attrs["function"], rec.Worker == local.Worker().ID())
		break
	}
	// Output: WARN chunk failed doc.cube true
}

// Heartbeats come as the worker's stats.
func ExampleLogHeartbeats() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	local, err := cluster.StartLocal(ctx, 3)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	for rec, err := range local.Pool().Logs(ctx, pool.LogHeartbeats()) {
		if err != nil {
			log.Fatal(err)
		}
		if rec.Heartbeat != nil {
			fmt.Println(rec.Heartbeat.Slots, rec.Heartbeat.WorkerID == rec.Worker)
			break
		}
	}
	// Output: 3 true
}

func ExampleParseLogMessage() {
	rec, err := pool.ParseLogMessage("log.host-42-ab12",
		[]byte(`{"time":"2026-11-30T05:30:00Z","level":"WARN","msg":"chunk failed","function":"doc.cube","err":"negative input -1"}`))
	fmt.Println(rec.Worker, rec.Time.Format("15:04:05"), rec.Level, rec.Message, rec.Attrs["function"], rec.Attrs["err"], err)
	// Output: host-42-ab12 05:30:00 WARN chunk failed doc.cube negative input -1 <nil>
}
