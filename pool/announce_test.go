package pool_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// TestMapsAnnounceProgressOnTheLogChannel: a map that runs for a while
// is announced on the log channel (start, progress with growing counts,
// end), with its id, function, total and start time; a map that ends at
// once is not announced at all.
func TestMapsAnnounceProgressOnTheLogChannel(t *testing.T) {
	ctx := testenv.Context(t)
	addr := gearmand(t)
	logURL := fmt.Sprintf("tcp://127.0.0.1:%d", testenv.FreePort(t))
	cmdURL := fmt.Sprintf("tcp://127.0.0.1:%d", testenv.FreePort(t))
	// No broker: the watcher binds the log channel, as a client does.
	sub, err := broker.BindSubscriber(logURL, wire.TopicMap)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	startWorker(t, 2, addr)
	p, err := pool.New(config.Client{JobServers: []string{addr}, CommandFrontendURL: cmdURL, CommandBackendURL: cmdURL,
		LogFrontendURL: logURL, LogBackendURL: logURL})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitSlots(t, p, Nap.Name(), 2)

	// The subscriber sits in Recv from now on: ZeroMQ hands its
	// subscriptions to a publisher that connects only while it is used.
	announced := make(chan []pool.MapAnnouncement, 1)
	go func() { announced <- readAnnouncements(t, ctx, sub) }()
	if _, err := pool.Map(ctx, p, funcs.Square, []int64{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	naps := make([]time.Duration, 40)
	for i := range naps {
		naps[i] = 50 * time.Millisecond
	}
	started := time.Now()
	if _, err := pool.Map(ctx, p, Nap, naps, pool.Chunksize(1)); err != nil {
		t.Fatal(err)
	}
	got := <-announced
	var dones []int
	for _, a := range got {
		if a.Function != Nap.Name() || a.Total != len(naps) || a.ID == "" || a.Start.Before(started.Add(-time.Second)) {
			t.Errorf("announcement %+v: want function %s, total %d, an id and the start time", a, Nap.Name(), len(naps))
		}
		dones = append(dones, a.Done)
	}
	if len(got) < 3 || len(dones) == 0 || got[len(got)-1].State != pool.MapEnded || got[len(got)-1].Done != len(naps) {
		t.Fatalf("announcements %+v: want progress and an end with %d done", got, len(naps))
	}
	if dones[0] >= dones[len(dones)-1] {
		t.Errorf("the count did not move: %v", dones)
	}
}

// readAnnouncements reads map announcements until one says the map ended;
// any of another function (the small map) fails the test (Errorf: it
// runs on a goroutine of its own).
func readAnnouncements(t *testing.T, ctx context.Context, sub *broker.Subscriber) []pool.MapAnnouncement {
	t.Helper()
	var got []pool.MapAnnouncement
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		_, parts, err := sub.Recv(rctx)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("no end announced; got %+v", got)
			return got
		}
		if err != nil {
			t.Error(err)
			return got
		}
		var a pool.MapAnnouncement
		if err := json.Unmarshal(parts[0], &a); err != nil {
			t.Error(err)
			return got
		}
		if a.Function != Nap.Name() {
			t.Errorf("a map of %s that ended at once was announced: %+v", a.Function, a)
		}
		if got = append(got, a); a.State == pool.MapEnded {
			return got
		}
	}
}

// BenchmarkMapOneItemAnnounced is BenchmarkMapOneItem on a pool with a
// log channel, watched (a subscriber to map announcements is bound there):
// the announcer's cost on the small-call path, which is one registration
// per map, never a message (such maps end within announceAfter).
func BenchmarkMapOneItemAnnounced(b *testing.B) {
	addr := gearmand(b, "--verbose=ERROR")
	startWorker(b, 2, addr)
	logURL := fmt.Sprintf("tcp://127.0.0.1:%d", testenv.FreePort(b))
	cmdURL := fmt.Sprintf("tcp://127.0.0.1:%d", testenv.FreePort(b))
	sub, err := broker.BindSubscriber(logURL, wire.TopicMap)
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	p, err := pool.New(config.Client{JobServers: []string{addr}, CommandFrontendURL: cmdURL, CommandBackendURL: cmdURL,
		LogFrontendURL: logURL, LogBackendURL: logURL})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	waitSlots(b, p, funcs.Square.Name(), 2)
	items := []int64{3}
	b.ResetTimer()
	for b.Loop() {
		if out, err := pool.Map(context.Background(), p, funcs.Square, items); err != nil || len(out) != 1 {
			b.Fatal(err)
		}
	}
}
