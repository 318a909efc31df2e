package dashboard

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// How long things stay on the page.
const (
	forgetWorker = 2 * time.Minute  // a stale worker the job servers no longer list
	mapStale     = 6 * time.Second  // three of the announcer's idle resend
	forgetMap    = 30 * time.Second // a stale map
	keepEnded    = 3 * time.Second  // a map that ended shows "done" this long
	recentLogs   = 200              // records a new page is shown first
	followBuffer = 256              // records a slow reader may lag behind
)

// state is what Cluster has seen, shared by its goroutines and the page.
type state struct {
	staleAfter time.Duration

	mu       sync.Mutex
	workers  map[string]*workerSeen
	listed   map[string]int // worker id: slots, as the job servers list them
	funcs    []Function
	maps     map[string]*mapSeen
	history  *history
	problems map[string]string // what: error

	recent    []LogRecord
	followers map[chan LogRecord]struct{}
	logsDone  bool
}

type workerSeen struct {
	stats    pool.WorkerStats
	beat     time.Time // zero: no heartbeat yet
	listedAt time.Time // last seen in a job server's listing
}

type mapSeen struct {
	ann  pool.MapAnnouncement
	seen time.Time
}

func newState(staleAfter time.Duration) *state {
	return &state{staleAfter: staleAfter, workers: map[string]*workerSeen{}, listed: map[string]int{},
		maps: map[string]*mapSeen{}, history: newHistory(), problems: map[string]string{},
		followers: map[chan LogRecord]struct{}{}}
}

// take files one message of the log channel.
func (s *state) take(topic string, data []byte, now time.Time) {
	switch {
	case strings.HasPrefix(topic, wire.TopicHeartbeat):
		var st pool.WorkerStats
		if json.Unmarshal(data, &st) == nil && st.WorkerID != "" {
			s.heartbeat(st, now)
		}
	case strings.HasPrefix(topic, wire.TopicMap):
		var a pool.MapAnnouncement
		if json.Unmarshal(data, &a) == nil && a.ID != "" {
			s.announcement(a, now)
		}
	case strings.HasPrefix(topic, wire.TopicLog):
		s.record(parseRecord(strings.TrimPrefix(topic, wire.TopicLog), data))
	}
}

func (s *state) heartbeat(st pool.WorkerStats, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.workers[st.WorkerID]
	if w == nil {
		w = &workerSeen{}
		s.workers[st.WorkerID] = w
	} else if d := st.Requests - w.stats.Requests; d > 0 && !w.beat.IsZero() {
		s.history.add(now, 0, float64(d))
	}
	w.stats, w.beat = st, now
}

func (s *state) announcement(a pool.MapAnnouncement, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.maps[a.ID]
	if m == nil {
		// A map seen from its start: what it did before its first
		// announcement counts too.
		m = &mapSeen{}
		s.maps[a.ID] = m
		if a.State != pool.MapStarted {
			m.ann.Done = a.Done // seen midway: only what follows counts
		}
	}
	if d := a.Done - m.ann.Done; d > 0 {
		s.history.add(now, float64(d), 0)
	}
	m.ann, m.seen = a, now
}

// servers files the job servers' answers.
func (s *state) servers(reports []serverReport, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.funcs = s.funcs[:0]
	clear(s.listed)
	for _, r := range reports {
		what := "job server " + r.addr
		if r.err != nil {
			s.problems[what] = r.err.Error()
			continue
		}
		delete(s.problems, what)
		s.funcs = append(s.funcs, r.funcs...)
		for id, slots := range r.workers {
			s.listed[id] = slots
			w := s.workers[id]
			if w == nil {
				w = &workerSeen{stats: pool.WorkerStats{WorkerID: id, Slots: slots}}
				s.workers[id] = w
			}
			w.listedAt = now
		}
	}
}

// problem files what's error, or clears it when err is nil.
func (s *state) problem(what string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.problems, what)
		return
	}
	s.problems[what] = err.Error()
}

// snapshot is the page's view at now; it forgets what is long gone.
func (s *state) snapshot(now time.Time) Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{Time: now, Workers: []Worker{}, Functions: slices.Clone(s.funcs), Maps: []Map{},
		Throughput: s.history.points(now), Problems: []string{}}
	for id, w := range s.workers {
		row, keep := s.workerRow(w, now)
		if !keep {
			delete(s.workers, id)
			continue
		}
		snap.Workers = append(snap.Workers, row)
	}
	slices.SortFunc(snap.Workers, func(a, b Worker) int { return cmp.Compare(a.ID, b.ID) })
	for id, m := range s.maps {
		age := now.Sub(m.seen)
		if (m.ann.State == pool.MapEnded && age > keepEnded) || age > forgetMap {
			delete(s.maps, id)
			continue
		}
		snap.Maps = append(snap.Maps, Map{MapAnnouncement: m.ann, Stale: m.ann.State != pool.MapEnded && age > mapStale})
	}
	slices.SortFunc(snap.Maps, func(a, b Map) int { return a.Start.Compare(b.Start) })
	for what, err := range s.problems {
		snap.Problems = append(snap.Problems, fmt.Sprintf("%s: %s", what, err))
	}
	slices.Sort(snap.Problems)
	return snap
}

// workerRow is w's row; keep is false once it is gone for good.
func (s *state) workerRow(w *workerSeen, now time.Time) (Worker, bool) {
	st := w.stats
	_, listed := s.listed[st.WorkerID]
	last := w.beat
	if w.listedAt.After(last) {
		last = w.listedAt
	}
	stale := !listed && (w.beat.IsZero() || now.Sub(w.beat) > s.staleAfter)
	if !w.beat.IsZero() && now.Sub(w.beat) > s.staleAfter {
		stale = true
	}
	if stale && now.Sub(last) > forgetWorker {
		return Worker{}, false
	}
	row := Worker{ID: st.WorkerID, Host: st.Host, PID: st.PID, Slots: st.Slots, Busy: st.Active, Requests: st.Requests,
		MeanBusy: st.MeanBusy().Seconds(), Failures: st.Failures, Memory: st.MemoryRSS, LastHeartbeat: w.beat, Stale: stale}
	if !st.Start.IsZero() {
		row.Uptime = now.Sub(st.Start).Seconds()
	}
	return row, true
}
