package cluster

import (
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/pool"
)

// Stats is a snapshot of a worker's counters (see pool.WorkerStats: the
// same data travels in heartbeats and ping replies).
type Stats = pool.WorkerStats

// Stats returns a snapshot of the worker's counters. It is safe to call
// at any time, from any goroutine.
func (w *Worker) Stats() Stats {
	s := Stats{
		Host:      w.host,
		PID:       w.pid,
		WorkerID:  w.id,
		Slots:     w.slots,
		Functions: w.Functions(),
		Start:     w.start,
		Time:      time.Now(),
		Active:    int(w.active.Load()),
		MemoryRSS: residentMemory(),
	}
	// Busy before Requests: a chunk ending between the two loads then
	// shows as one more request rather than as time with no request.
	s.Busy = time.Duration(w.busy.Load())
	s.Failures = w.failures.Load()
	s.Requests = w.requests.Load()
	w.mu.Lock()
	s.LastError, s.LastErrorTime = w.lastErr, w.lastErrTime
	w.mu.Unlock()
	if w.control != nil {
		s.RejectedCommands = w.control.gate.rejectedCount()
	}
	return s
}

// residentMemory reads this process's resident set size from /proc; 0
// where that is not available.
func residentMemory() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}
