package faults

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/internal/gearmantest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// TestBrokerRestart: the broker is SIGKILLed and started again on the
// same URLs. The workers' ZeroMQ sockets reconnect and subscribe again, so
// a subscriber that lived through the restart and a new `logs` process see
// their heartbeats and records, and `ping -via zmq` is answered by every
// worker again.
func TestBrokerRestart(t *testing.T) {
	c := newCluster(t, Setup{Broker: true, Worker: []string{"heartbeat_interval = 50ms"}})
	ctx := c.ctx
	b := c.start(t, nil, "broker")
	b.stderr.WaitFor(t, ctx, "broker serving", b.done)
	workers := []*proc{c.worker(t, 1), c.worker(t, 1)}
	ids, err := workerIDs(ctx, c.servers[0].Addr())
	if err != nil {
		t.Fatal(err)
	}

	sub, err := broker.NewSubscriber(c.cfg.LogBackendURL, "heartbeat.")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	waitHeartbeats(t, ctx, sub, ids, time.Time{})
	c.pingZMQ(t, workers)

	b.kill(t, ctx)
	killed := time.Now()
	b = c.start(t, nil, "broker")
	b.stderr.WaitFor(t, ctx, "broker serving", b.done)

	// The subscriber from before the restart: heartbeats made after the
	// old broker died can only have come through the new one.
	waitHeartbeats(t, ctx, sub, ids, killed)
	// A new logs process: heartbeats, then a record.
	logs := c.start(t, nil, "logs", "-heartbeats")
	for _, id := range ids {
		logs.stdout.Wait(t, ctx, id+"'s heartbeat", func(s string) bool { return strings.Contains(s, id+" heartbeat {") }, logs.done)
	}
	p := c.pool(t)
	if _, err := pool.Map(ctx, p, poisonPanic, []int{poisonPanicItem}); err == nil {
		t.Fatal("the poison item did not fail")
	}
	logs.stdout.Wait(t, ctx, "the chunk failure record", func(s string) bool {
		return strings.Contains(s, "chunk failed") && strings.Contains(s, "poison item")
	}, logs.done)
	c.pingZMQ(t, workers)
	c.shutdown(t)
}

// waitHeartbeats reads heartbeats until each worker id has sent one taken
// after since.
func waitHeartbeats(t *testing.T, ctx context.Context, sub *broker.Subscriber, ids map[int]string, since time.Time) {
	t.Helper()
	missing := map[string]bool{}
	for _, id := range ids {
		missing[id] = true
	}
	for len(missing) > 0 {
		topic, parts, err := sub.Recv(ctx)
		if err != nil {
			t.Fatalf("waiting for heartbeats from %v: %v", missing, err)
		}
		var st pool.WorkerStats
		if len(parts) != 1 || json.Unmarshal(parts[0], &st) != nil {
			t.Fatalf("malformed heartbeat on %q: %q", topic, parts)
		}
		if topic == "heartbeat."+st.WorkerID && st.Time.After(since) {
			delete(missing, st.WorkerID)
		}
	}
}

// pingZMQ runs `glimpse-cluster ping -via zmq` until every worker answers:
// a worker whose subscription has not reached the broker yet misses a
// ping, and the channel cannot know it did.
func (c *Cluster) pingZMQ(t *testing.T, workers []*proc) {
	t.Helper()
	var last string
	testenv.Eventually(t, c.ctx, "every worker answering ping -via zmq", func() (bool, error) {
		ping := c.start(t, nil, "ping", "-via", "zmq", "-t", "3s")
		st := ping.wait(t, c.ctx)
		last = ping.stdout.String() + ping.stderr.String()
		if st.ExitCode() != 0 {
			return false, errors.New(last)
		}
		for _, w := range workers {
			if !strings.Contains(ping.stdout.String(), " "+strconv.Itoa(w.pid())+" ") {
				return false, errors.New(last)
			}
		}
		return true, nil
	})
	t.Logf("ping -via zmq:\n%s", last)
}

// TestFanoutRestartMidBroadcast: the fanout worker is SIGKILLed while a
// broadcast waits for a worker that cannot answer (SIGSTOPped), and
// started again. The interrupted broadcast does not hang: it returns an
// error, or the answers of the running workers, and a later ping through the new
// fanout worker is answered by every worker.
func TestFanoutRestartMidBroadcast(t *testing.T) {
	c := newCluster(t, Setup{})
	ctx := c.ctx
	addr := c.servers[0].Addr()
	fan := c.start(t, nil, "fanout")
	workers := []*proc{c.worker(t, 1), c.worker(t, 1), c.worker(t, 1)}
	p := c.pool(t)
	c.waitPing(t, p, workers)
	ids, err := workerIDs(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}

	stopped := workers[2]
	stopped.signal(t, syscall.SIGSTOP)
	type result struct {
		replies []pool.Reply
		err     error
	}
	res := make(chan result, 1)
	go func() {
		bctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		replies, err := p.Broadcast(bctx, pool.Command{Name: pool.CommandPing})
		res <- result{replies, err}
	}()
	// Mid-broadcast: the fanout job runs and its copy for the stopped
	// worker waits in that worker's queue.
	queue := wire.CommandTopic + "_" + ids[stopped.pid()]
	testenv.Eventually(t, ctx, "the fanout to wait for the stopped worker", func() (bool, error) {
		fst, err := gearmantest.FunctionStatus(ctx, addr, "fanout")
		if err != nil {
			return false, err
		}
		qst, err := gearmantest.FunctionStatus(ctx, addr, queue)
		return fst.Running == 1 && qst.Queued >= 1, err
	})
	fan.kill(t, ctx)
	fan = c.start(t, nil, "fanout")

	var r result
	select {
	case r = <-res:
	case <-ctx.Done():
		t.Fatal("the interrupted broadcast hung")
	}
	if r.err != nil {
		t.Logf("the interrupted broadcast failed: %v", r.err)
	} else {
		// The new fanout worker runs the broadcast again; the workers
		// that answered the first run answer a ping again.
		answered := 0
		for _, reply := range r.replies {
			if reply.Worker == ids[stopped.pid()] && reply.Error == "" {
				t.Fatalf("the stopped worker answered: %+v", reply)
			}
			if reply.Worker != ids[stopped.pid()] && reply.Error == "" && reply.Stats != nil {
				answered++
			}
		}
		if answered != 2 {
			t.Fatalf("the interrupted broadcast has %d answers from the 2 running workers: %+v", answered, r.replies)
		}
		t.Logf("the interrupted broadcast returned %d replies: %+v", len(r.replies), r.replies)
	}

	stopped.signal(t, syscall.SIGCONT)
	c.waitPing(t, p, workers)
	c.shutdown(t)
}

// waitPing pings through the fanout worker until every worker answers.
func (c *Cluster) waitPing(t *testing.T, p *pool.Pool, workers []*proc) {
	t.Helper()
	testenv.Eventually(t, c.ctx, "every worker answering a ping through the fanout worker", func() (bool, error) {
		pctx, cancel := context.WithTimeout(c.ctx, 3*time.Second)
		defer cancel()
		stats, err := p.Ping(pctx)
		pids := map[int]bool{}
		for _, s := range stats {
			pids[s.PID] = true
		}
		for _, w := range workers {
			if !pids[w.pid()] {
				return false, err
			}
		}
		return len(stats) == len(workers), err
	})
}
