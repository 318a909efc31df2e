package metrics_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/fanout"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/gearmantest"
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
	l, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := serve(t, metrics.NewRegistry(metrics.NewLocalCollector(l)))
	if _, err := pool.Map(ctx, l.Pool(), funcs.Square, make([]int64, 100), pool.Chunksize(10)); err != nil {
		t.Fatal(err)
	}
	// The worker's subscription to the command channel reaches the
	// broker on its own time (the local cluster waits for the fanout's).
	testenv.Eventually(t, ctx, "the worker's subscription at the broker", func() (bool, error) {
		return l.Broker().Stats().Command.Up.Messages > 0, nil
	})
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
	gname := wire.GearmanPrefix + funcs.Square.Name()
	sc.Want(t, 1, "glimpse_jobserver_up", gd...)
	sc.Want(t, 1, "glimpse_jobserver_workers", append(gd, "function", gname)...)
	sc.Want(t, 0, "glimpse_jobserver_queued_jobs", append(gd, "function", gname)...)
	sc.Want(t, 1, "glimpse_fanout_subscribers", "topic", wire.CommandTopic)
	sc.WantAbove(t, 0, "glimpse_broker_messages_total", "channel", "command", "direction", "up")
	sc.WantAbove(t, 0, "process_resident_memory_bytes")
	metricstest.Promtool(t, sc)
}

// subscriberQueue serves a fanout subscriber's queue on a real gearmand
// with fn until the test ends, and waits until the job server lists it.
func subscriberQueue(t *testing.T, ctx context.Context, addr, queue string, fn gearman.JobFunc, opts ...gearman.WorkerOption) {
	t.Helper()
	w, err := gearman.NewWorker([]string{addr}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	w.Register(queue, fn)
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	t.Cleanup(func() {
		w.Close()
		<-ran
	})
	testenv.Eventually(t, ctx, queue+" served", func() (bool, error) {
		st, err := gearmantest.FunctionStatus(ctx, addr, queue)
		return st.Workers > 0, err
	})
}

// TestFanoutCollector fans out to a real gearmand's subscribers, one that
// answers, one that fails and one too busy to answer in time, then
// scrapes the fanout worker's metrics over HTTP: subscribers per topic,
// copies sent, failed and timed out.
func TestFanoutCollector(t *testing.T) {
	ctx := testenv.Context(t)
	addr := testenv.Gearmand(t).Addr()
	cfg := config.DefaultFanout()
	cfg.Store = filepath.Join(t.TempDir(), "fanout.db")
	w, err := fanout.NewWorker(config.Client{JobServers: []string{addr}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	defer func() {
		w.Close()
		<-ran
	}()
	echo := func(_ context.Context, j *gearman.Job) ([]byte, error) { return j.Data, nil }
	release, busy := make(chan struct{}), make(chan struct{}, 1)
	subscriberQueue(t, ctx, addr, "memos_busy", func(_ context.Context, j *gearman.Job) ([]byte, error) {
		if string(j.Data) == "blocker" {
			busy <- struct{}{}
			<-release
		}
		return j.Data, nil
	}, gearman.WithConcurrency(1))
	t.Cleanup(func() { close(release) }) // before the worker above is closed
	subscriberQueue(t, ctx, addr, "memos_ok", echo)
	subscriberQueue(t, ctx, addr, "memos_broken", func(context.Context, *gearman.Job) ([]byte, error) {
		return nil, errors.New("disk full")
	})
	c, err := gearman.NewClient(ctx, []string{addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.SubmitBackground(ctx, "memos_busy", []byte("blocker")); err != nil {
		t.Fatal(err)
	}
	<-busy
	for _, s := range []fanout.Subscription{{Topic: "memos", ClientID: "ok"}, {Topic: "memos", ClientID: "broken"},
		{Topic: "memos", ClientID: "busy"}, {Topic: "other", ClientID: "ok"}} {
		if err := fanout.Subscribe(ctx, c, s.Topic, s.ClientID); err != nil {
			t.Fatal(err)
		}
	}
	// Foreground: ok delivered; broken and busy (timed out) failed.
	_, err = fanout.Send(ctx, c, fanout.Request{Topic: "memos", Payload: fanout.StringPayload("x"), Timeout: 0.5})
	var ce *fanout.CopiesError
	if !errors.As(err, &ce) || len(ce.Errs) != 2 {
		t.Fatalf("fanout: %v, want broken and busy failed", err)
	}
	// Background: the job server accepts all three copies.
	if n, err := fanout.Send(ctx, c, fanout.Request{Topic: "memos", Payload: fanout.StringPayload("y"), Background: true}); n != 3 || err != nil {
		t.Fatalf("background fanout: %d, %v; want 3", n, err)
	}

	sc := metricstest.Get(t, serve(t, metrics.NewRegistry(metrics.NewFanoutCollector(w))).URL())
	sc.Want(t, 3, "glimpse_fanout_subscribers", "topic", "memos")
	sc.Want(t, 1, "glimpse_fanout_subscribers", "topic", "other")
	sc.Want(t, 1+3, "glimpse_fanout_copies_sent_total")
	sc.Want(t, 2, "glimpse_fanout_copies_failed_total")
	sc.Want(t, 1, "glimpse_fanout_copies_timed_out_total")
	metricstest.Promtool(t, sc)
}
