package cli

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// TestPoolLogsFollowsAWorkerProcess follows a worker process's log channel
// through a broker process with pool.Logs: its heartbeat arrives as a
// typed WorkerStats, and the record of a chunk that failed there arrives
// typed (level, message, attributes); records below the level filter and
// workers outside the glob are not yielded; cancelling ends the iteration.
func TestPoolLogsFollowsAWorkerProcess(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	var urls []string
	for range 4 {
		urls = append(urls, "tcp://127.0.0.1:"+strconv.Itoa(testenv.FreePort(t)))
	}
	keys := []string{"command_frontend_url", "command_backend_url", "log_frontend_url", "log_backend_url"}
	var client, server []string
	for i, k := range keys {
		client = append(client, k+" = "+urls[i])
		server = append(server, k+" = "+urls[i])
	}
	lines := append(append(client, "[server]"), server...)
	cfg := writeConfig(t, []string{srv.Addr()}, append(lines, "[worker]", "heartbeat_interval = 50ms")...)
	b := startProc(t, "-c", cfg, "broker")
	b.stderr.WaitFor(t, ctx, "broker serving", b.done)
	w := startProc(t, "-c", cfg, "worker", "-n", "1")
	waitWorker(t, ctx, srv.Addr(), exampleGearmanNames...)
	pl, err := pool.FromConfigFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()

	lctx, stop := context.WithCancel(ctx)
	defer stop()
	recs := make(chan pool.LogRecord, 1000)
	ended := make(chan error, 2)
	follow := func(opts ...pool.LogOption) {
		for rec, err := range pl.Logs(lctx, opts...) {
			if err != nil {
				ended <- err
				return
			}
			select {
			case recs <- rec:
			default:
			}
		}
		ended <- nil
	}
	go follow(pool.LogLevel(slog.LevelWarn), pool.LogHeartbeats())
	go follow(pool.LogWorkers("nobody-*"), pool.LogHeartbeats()) // yields nothing

	pid := w.cmd.Process.Pid
	hb := waitRecord(t, ctx, recs, func(r pool.LogRecord) bool { return r.Heartbeat != nil })
	if hb.Heartbeat.PID != pid || hb.Heartbeat.WorkerID != hb.Worker || hb.Heartbeat.Slots != 1 || hb.Time.IsZero() {
		t.Fatalf("heartbeat %+v of %s, want the worker process %d's stats", *hb.Heartbeat, hb.Worker, pid)
	}
	if _, err := pool.Map(ctx, pl, failThree, []int{3}); err == nil {
		t.Fatal("failThree(3) succeeded")
	}
	rec := waitRecord(t, ctx, recs, func(r pool.LogRecord) bool { return r.Heartbeat == nil })
	if rec.Worker != hb.Worker || rec.Level != slog.LevelWarn || rec.Message != "chunk failed" ||
		rec.Attrs["function"] != failThree.Name() || !strings.Contains(rec.Attrs["err"].(string), errThree.Error()) ||
		time.Since(rec.Time) > time.Minute {
		t.Fatalf("record %+v, want WARN chunk failed of %s from %s", rec, failThree.Name(), hb.Worker)
	}
	stop()
	for range 2 {
		select {
		case err := <-ended:
			if err != nil {
				t.Fatalf("Logs ended with %v after cancel, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Logs did not end within 5s of cancel")
		}
	}
	close(recs)
	for r := range recs {
		if r.Heartbeat == nil && r.Level < slog.LevelWarn || r.Worker != hb.Worker {
			t.Errorf("yielded %+v: below the level filter, or outside the glob", r)
		}
	}
}

// waitRecord returns the first record from recs that matches.
func waitRecord(t *testing.T, ctx context.Context, recs <-chan pool.LogRecord, match func(pool.LogRecord) bool) pool.LogRecord {
	t.Helper()
	for {
		select {
		case r := <-recs:
			if r.Heartbeat == nil && r.Level < slog.LevelWarn {
				t.Errorf("yielded %+v below the level filter", r)
			}
			if match(r) {
				return r
			}
		case <-ctx.Done():
			t.Fatal("no matching record arrived")
		}
	}
}
