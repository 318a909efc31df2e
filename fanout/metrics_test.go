package fanout

import (
	"context"
	"errors"
	"testing"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/metricstest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/metrics"
)

// TestCollectorCountsCopies fans out to a real gearmand's subscribers, one
// that answers, one that fails and one too busy to answer in time, then
// scrapes the fanout worker's metrics over HTTP: subscribers per topic,
// copies sent, failed and timed out.
func TestCollectorCountsCopies(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	w := startWorker(t, []string{g.Addr()}, testConfig(sqlitePath(t)))
	c := newClient(t, g.Addr())
	release := make(chan struct{})
	busy := serve(t, g.Addr(), "memos_busy", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		if string(j.Data) == "blocker" {
			<-release
		}
		return j.Data, nil
	}, gearman.WithConcurrency(1))
	t.Cleanup(func() { close(release) }) // before serve's cleanup stops the worker
	serve(t, g.Addr(), "memos_ok", nil)
	serve(t, g.Addr(), "memos_broken", func(context.Context, *gearman.Job) ([]byte, error) {
		return nil, errors.New("disk full")
	})
	if _, err := c.SubmitBackground(context.Background(), "memos_busy", []byte("blocker")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the blocker to run", func() bool { return len(busy.got()) == 1 })
	for _, id := range []string{"ok", "broken", "busy"} {
		subscribe(t, c, "memos", id)
	}
	subscribe(t, c, "other", "ok")

	// Foreground: ok delivered; broken and busy (timed out) failed.
	ctx := testenv.Context(t)
	_, err := Send(ctx, c, Request{Topic: "memos", Payload: StringPayload("x"), Timeout: 0.5})
	var ce *CopiesError
	if !errors.As(err, &ce) || len(ce.Errs) != 2 {
		t.Fatalf("fanout: %v, want broken and busy failed", err)
	}
	// Background: the job server accepts all three copies.
	if n, err := Send(ctx, c, Request{Topic: "memos", Payload: StringPayload("y"), Background: true}); n != 3 || err != nil {
		t.Fatalf("background fanout: %d, %v; want 3", n, err)
	}

	s, err := metrics.Listen("127.0.0.1:0", metrics.NewRegistry(w.Collector()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sc := metricstest.Get(t, s.URL())
	sc.Want(t, 3, "glimpse_fanout_subscribers", "topic", "memos")
	sc.Want(t, 1, "glimpse_fanout_subscribers", "topic", "other")
	sc.Want(t, 1+3, "glimpse_fanout_copies_sent_total")
	sc.Want(t, 2, "glimpse_fanout_copies_failed_total")
	sc.Want(t, 1, "glimpse_fanout_copies_timed_out_total")
	metricstest.Promtool(t, sc)
}
