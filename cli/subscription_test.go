package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// startRenewingWorker starts a fanout worker process and one worker
// process that renews its subscription every renewal, and returns the
// job server's address, both processes and the worker's id once it
// answers ping.
func startRenewingWorker(t *testing.T, ctx context.Context, renewal string) (addr string, fan, w *proc, id string) {
	t.Helper()
	srv := testenv.Gearmand(t)
	addr = srv.Addr()
	cfg := writeConfig(t, []string{addr}, "[worker]", "subscription_renewal = "+renewal,
		"[fanout]", "store = "+filepath.Join(t.TempDir(), "fanout.db"))
	fan = startProc(t, "-c", cfg, "fanout")
	w = startProc(t, "-c", cfg, "worker", "-n", "1")
	testenv.Eventually(t, ctx, "the worker answering ping", func() (bool, error) {
		ids, err := pingedIDs(t, ctx, addr)
		if len(ids) == 1 {
			id = ids[0]
		}
		return id != "", err
	})
	return addr, fan, w, id
}

// pingedIDs pings via the fanout and returns the ids of the workers that
// answered.
func pingedIDs(t *testing.T, ctx context.Context, addr string) ([]string, error) {
	t.Helper()
	pl, err := pool.New(config.Client{JobServers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	stats, err := pl.Ping(pctx)
	var ids []string
	for _, s := range stats {
		ids = append(ids, s.WorkerID)
	}
	return ids, err
}

// unsubscribeAsOutsider submits unsubscribe_fanout for worker id with a
// plain gearman.Client, as anyone who can reach the job server can.
func unsubscribeAsOutsider(t *testing.T, ctx context.Context, addr, id string) {
	t.Helper()
	msg, _ := json.Marshal(map[string]string{"topic": "glimpse-commands", "client_id": id})
	if _, err := newClient(t, ctx, addr).SubmitBackground(ctx, "unsubscribe_fanout", msg); err != nil {
		t.Fatal(err)
	}
}

// TestOutsiderUnsubscribeHeals: an outsider's unsubscribe_fanout makes
// ping via the fanout miss the worker (shown while the worker is stopped
// with SIGSTOP, so that it cannot renew yet), and once the worker runs
// again it answers ping within a few subscription_renewal periods.
func TestOutsiderUnsubscribeHeals(t *testing.T) {
	ctx := testenv.Context(t)
	addr, fan, w, id := startRenewingWorker(t, ctx, "500ms")

	w.signal(t, syscall.SIGSTOP)
	unsubscribeAsOutsider(t, ctx, addr, id)
	fan.stderr.Wait(t, ctx, "the fanout worker unsubscribing "+id, func(log string) bool {
		return slices.Contains(subscriptionEvents(log, id), "unsubscribed")
	}, fan.done)
	if ids, err := pingedIDs(t, ctx, addr); len(ids) != 0 {
		t.Fatalf("ping right after the outsider's unsubscribe: answered by %v (%v); want no worker", ids, err)
	}

	w.signal(t, syscall.SIGCONT)
	// A few renewal periods, with slack for a loaded machine.
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	testenv.Eventually(t, hctx, "the worker answering ping again", func() (bool, error) {
		ids, err := pingedIDs(t, ctx, addr)
		return len(ids) == 1 && ids[0] == id, err
	})
}

// TestQuitWorkerStaysUnsubscribed: a worker that renews its subscription
// often and then quits is unsubscribed for good: no renewal reaches the
// fanout after its unsubscribe.
func TestQuitWorkerStaysUnsubscribed(t *testing.T) {
	ctx := testenv.Context(t)
	_, fan, w, id := startRenewingWorker(t, ctx, "10ms")
	// Renewals are under way.
	fan.stderr.Wait(t, ctx, "renewals", func(log string) bool {
		return len(subscriptionEvents(log, id)) >= 3
	}, fan.done)

	w.signal(t, syscall.SIGTERM)
	if code := w.wait(t, ctx); code != 0 {
		t.Fatalf("worker exit %d after SIGTERM, want 0", code)
	}
	fan.stderr.Wait(t, ctx, "the fanout worker unsubscribing "+id, func(log string) bool {
		return slices.Contains(subscriptionEvents(log, id), "unsubscribed")
	}, fan.done)
	// A moment later (many renewal periods), still unsubscribed.
	time.Sleep(500 * time.Millisecond)
	events := subscriptionEvents(fan.stderr.String(), id)
	if events[len(events)-1] != "unsubscribed" {
		t.Fatalf("the worker was subscribed again after it quit: the fanout's log for it: %v", events)
	}
}

// subscriptionEvents returns, in order, "subscribed" and "unsubscribed"
// for each line of a fanout worker's log that (un)subscribed worker id
// to the command topic.
func subscriptionEvents(log, id string) []string {
	var events []string
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, " topic=glimpse-commands client_id="+id) {
			continue
		}
		for _, ev := range []string{"subscribed", "unsubscribed"} {
			if strings.Contains(line, " msg="+ev+" ") {
				events = append(events, ev)
			}
		}
	}
	return events
}
