package cluster

import (
	"testing"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/metricstest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/metrics"
	"github.com/glimpse-go/glimpse/pool"
)

// TestLocalCollector maps over a local cluster and scrapes its one
// collector over HTTP: the worker's, the pool's, the broker's, the fanout
// worker's and gearmand's metrics, with their values.
func TestLocalCollector(t *testing.T) {
	ctx := testenv.Context(t)
	l, err := StartLocal(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := metrics.Listen("127.0.0.1:0", metrics.NewRegistry(l.Collector()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := pool.Map(ctx, l.Pool(), funcs.Square, make([]int64, 100), pool.Chunksize(10)); err != nil {
		t.Fatal(err)
	}
	sc := metricstest.Get(t, s.URL())
	fn := []string{"function", funcs.Square.Name()}
	sc.Want(t, 100, "glimpse_worker_items_total", fn...)
	sc.Want(t, 10, "glimpse_worker_chunks_total", fn...)
	sc.Want(t, 100, "glimpse_worker_item_duration_seconds", fn...)
	sc.Want(t, 10, "glimpse_worker_chunk_duration_seconds", fn...)
	sc.Want(t, 2, "glimpse_worker_slots")
	sc.Want(t, 1, "glimpse_pool_maps_started_total")
	sc.Want(t, 1, "glimpse_pool_maps_finished_total")
	gd := []string{"server", l.Config().JobServers[0]}
	sc.Want(t, 1, "glimpse_jobserver_up", gd...)
	sc.Want(t, 1, "glimpse_jobserver_workers", append(gd, "function", wire.GearmanPrefix+funcs.Square.Name())...)
	sc.Want(t, 0, "glimpse_jobserver_queued_jobs", append(gd, "function", wire.GearmanPrefix+funcs.Square.Name())...)
	sc.Want(t, 1, "glimpse_fanout_subscribers", "topic", wire.CommandTopic)
	sc.WantAbove(t, 0, "glimpse_broker_messages_total", "channel", "command", "direction", "up")
	sc.WantAbove(t, 0, "process_resident_memory_bytes")
	metricstest.Promtool(t, sc)
}
