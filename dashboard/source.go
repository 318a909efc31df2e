package dashboard

import (
	"context"
	"time"

	"github.com/glimpse-go/glimpse/pool"
)

// Source is where the dashboard reads the cluster.
type Source interface {
	// Snapshot returns the cluster as last seen. It must not wait long:
	// the page asks every second.
	Snapshot(ctx context.Context) Snapshot
	// Logs sends the recent log records, then each new one, until ctx
	// ends; then it closes the channel. A reader too slow to keep up
	// misses records rather than holding up the others.
	Logs(ctx context.Context) <-chan LogRecord
}

// TaskStates is what the dashboard asks a task service: how many tasks
// are in each state ("queued", "running", "succeeded", ...). The tasks
// package implements it; without one the page says "no task service".
type TaskStates interface {
	TaskStates(ctx context.Context) (map[string]int, error)
}

// Snapshot is the cluster at one time, as the page shows it.
type Snapshot struct {
	Time       time.Time  `json:"time"`
	Workers    []Worker   `json:"workers"`
	Functions  []Function `json:"functions"`
	Maps       []Map      `json:"maps"`
	Throughput []Point    `json:"throughput"`
	// Tasks counts tasks by state; nil when there is no task service.
	Tasks map[string]int `json:"tasks"`
	// Problems are what could not be read (a job server that did not
	// answer, the log channel), for the page to show.
	Problems []string `json:"problems"`
}

// Worker is one worker process: its last heartbeat's stats, and what the
// job servers list.
type Worker struct {
	ID       string  `json:"id"`
	Host     string  `json:"host"`
	PID      int     `json:"pid"`
	Slots    int     `json:"slots"`
	Busy     int     `json:"busy"`     // chunks running now
	Requests int64   `json:"requests"` // NREQS
	MeanBusy float64 `json:"mean_etime_s"`
	Failures int64   `json:"failures"`
	Memory   int64   `json:"memory_bytes"`
	Uptime   float64 `json:"uptime_s"`
	// LastHeartbeat is when its last heartbeat came; zero if none has
	// (the job servers list it, its heartbeat is still to come).
	LastHeartbeat time.Time `json:"last_heartbeat"`
	// Stale: its heartbeat is overdue (or it never sent one and the job
	// servers no longer list it).
	Stale bool `json:"stale"`
}

// Function is one function's queue at one job server.
type Function struct {
	Server  string `json:"server"`
	Name    string `json:"name"`
	Queued  int    `json:"queued"`
	Running int    `json:"running"`
	Workers int    `json:"workers"`
	Slots   int    `json:"slots"`
}

// Map is a map in progress, from its announcements.
type Map struct {
	pool.MapAnnouncement
	// Stale: no news of it for a while (its client may be gone).
	Stale bool `json:"stale"`
}

// Point is the throughput over one interval of the history.
type Point struct {
	Time   time.Time `json:"time"`   // the interval's end
	Items  float64   `json:"items"`  // items per second done by maps
	Chunks float64   `json:"chunks"` // chunks per second finished by workers
}

// LogRecord is one record of a worker's log.
type LogRecord struct {
	Worker string    `json:"worker"`
	Time   time.Time `json:"time"`
	Level  string    `json:"level"`
	Msg    string    `json:"msg"`
	// Attrs are the record's other attributes, as "k=v" text.
	Attrs string `json:"attrs"`
}
