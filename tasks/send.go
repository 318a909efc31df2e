package tasks

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/ids"
)

// GearmanPrefix is put before a registered name to make the Gearman
// function of its tasks' jobs: "glimpse-task.imaging.resize". It is not
// "glimpse.", the prefix of map chunks, so no registered name collides.
const GearmanPrefix = "glimpse-task."

// GearmanName is the Gearman function of fn's task jobs.
func GearmanName(fn string) string { return GearmanPrefix + fn }

// idLen is the length of an ID.
const idLen = 32

// senders is how many jobs a Client sends at once: each send waits for
// gearmand's JOB_CREATED, which a persistent queue makes a disk write.
// One: the tasks that come while it sends make its next job (with 4, the
// jobs of a stream of enqueues carried 3-4 tasks each, and a worker paid
// a claim and a record for every 3-4 tasks).
const senders = 1

// sendTimeout bounds one job's send.
const sendTimeout = 10 * time.Second

// sender sends due tasks to gearmand as background jobs of at most batch
// ids each, in the background.
type sender struct {
	gc    *gearman.Client
	batch int
	log   *slog.Logger
	jobs  chan job
	wg    sync.WaitGroup
	once  sync.Once
}

type job struct {
	fn  string
	ids []ID
}

func newSender(gc *gearman.Client, batch int, log *slog.Logger) *sender {
	s := &sender{gc: gc, batch: batch, log: log, jobs: make(chan job, 1024)}
	for range senders {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			var last time.Time
			for j := range s.jobs {
				last = s.sendMerged(j, last)
			}
		}()
	}
	return s
}

// mergeWait is how long a sender that sent a job less than mergeWait ago
// waits for more tasks of that function before it sends the next one:
// under a stream of enqueues the jobs fill up, and a worker claims and
// records a job's tasks in one transaction each; an enqueue after a pause
// is sent at once.
const mergeWait = 1 * time.Millisecond

// sendMerged sends j with the jobs of the same function queued behind it
// (or, when the last send was less than mergeWait ago, coming within
// mergeWait), in jobs of up to batch ids: when gearmand is slower than
// the store, the jobs fill up instead of the queue growing. It returns
// when its last send ended.
func (s *sender) sendMerged(j job, last time.Time) time.Time {
	ids := append([]ID(nil), j.ids...)
	var wait <-chan time.Time
	if time.Since(last) < mergeWait {
		t := time.NewTimer(mergeWait)
		defer t.Stop()
		wait = t.C
	}
	var other *job
	for len(ids) < s.batch {
		k, ok := s.next(wait)
		if !ok {
			break
		}
		if k.fn != j.fn {
			other = &k
			break
		}
		ids = append(ids, k.ids...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	if err := sendAll(ctx, s.gc, j.fn, ids, s.batch); err != nil {
		s.log.Warn("task job not sent; the sweeper sends it later", "function", j.fn, "tasks", len(ids), "err", err)
	}
	cancel()
	last = time.Now()
	if other != nil {
		return s.sendMerged(*other, last)
	}
	return last
}

// next returns the next job queued; with wait, it waits for one until
// wait fires. ok is false when there is none (or the queue is closed).
func (s *sender) next(wait <-chan time.Time) (job, bool) {
	select {
	case k, ok := <-s.jobs:
		return k, ok
	default:
	}
	if wait == nil {
		return job{}, false
	}
	select {
	case k, ok := <-s.jobs:
		return k, ok
	case <-wait:
		return job{}, false
	}
}

// queue hands ids, tasks of fn, to the sending goroutines. Without a
// Gearman client it does nothing: the sweeper sends them.
func (s *sender) queue(fn string, ids []ID) {
	for s.gc != nil && len(ids) > 0 {
		n := min(len(ids), s.batch)
		s.jobs <- job{fn: fn, ids: ids[:n]}
		ids = ids[n:]
	}
}

func (s *sender) close() {
	s.once.Do(func() { close(s.jobs) })
	s.wg.Wait()
}

// sendAll sends ids now, in jobs of at most batch ids, and returns the
// first error.
func sendAll(ctx context.Context, gc *gearman.Client, fn string, ids []ID, batch int) error {
	for len(ids) > 0 {
		n := min(len(ids), batch)
		if err := sendJob(ctx, gc, fn, ids[:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// sendJob submits one background job carrying ids. Its unique id is the
// first task's id and a random suffix: gearmand never merges two jobs
// with different task lists, and a duplicate job is harmless (its tasks'
// claim fails).
func sendJob(ctx context.Context, gc *gearman.Client, fn string, ids []ID) error {
	var b strings.Builder
	b.Grow(idLen * len(ids))
	for _, id := range ids {
		b.WriteString(string(id))
	}
	unique := string(ids[0]) + "-" + newSuffix()
	if _, err := gc.SubmitBackground(ctx, GearmanName(fn), []byte(b.String()), gearman.WithUnique(unique)); err != nil {
		return fmt.Errorf("tasks: send %d tasks of %s: %w", len(ids), fn, err)
	}
	return nil
}

func newSuffix() string { return ids.New(4) }

// parseJob reads a task job's ids.
func parseJob(data []byte) ([]ID, error) {
	if len(data) == 0 || len(data)%idLen != 0 {
		return nil, fmt.Errorf("tasks: a task job of %d bytes: want a multiple of %d", len(data), idLen)
	}
	out := make([]ID, 0, len(data)/idLen)
	for i := 0; i < len(data); i += idLen {
		id := ID(data[i : i+idLen])
		if !validID(id) {
			return nil, fmt.Errorf("tasks: %q in a task job is not a task id", id)
		}
		out = append(out, id)
	}
	return out, nil
}

func validID(id ID) bool {
	if len(id) != idLen {
		return false
	}
	for _, r := range id {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}
