package pool

import (
	"fmt"
	"path"
	"time"

	"github.com/glimpse-go/glimpse/internal/ids"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// Command, Reply and WorkerStats are what a program passes to
// Pool.Broadcast and gets back from it and from Ping, so they are
// declared here, where go doc shows their fields (an alias of a type in
// internal/wire would show none); the workers (package cluster) read and
// write the same JSON. The rest of the protocol is internal/wire's.

// Broadcast commands that every glimpse worker understands.
const (
	CommandPing    = "ping"    // answer with stats
	CommandStats   = "stats"   // the same, for scripts (JSON per worker)
	CommandQuit    = "quit"    // drain, then exit
	CommandRestart = "restart" // drain, then start again (re-exec)
	// CommandCancel stops the running chunks of the map named by the
	// command's Map (their function's context is cancelled), and refuses
	// that map's chunks until the command expires. A map sends it itself
	// when it ends early.
	CommandCancel = "cancel"
)

// Command is a broadcast command to workers. It has an id, so a worker
// that gets it twice (through both channels) obeys once, and an expiry, so
// a worker that starts late never obeys an old quit.
type Command struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Sent    time.Time `json:"sent"`
	Expires time.Time `json:"expires"`
	// Targets are worker ids or host names, or globs of them
	// (path.Match); empty means every worker.
	Targets []string `json:"targets,omitempty"`
	// Map is the map id whose chunks a cancel command stops: the
	// first part of their Gearman unique ids.
	Map string `json:"map,omitempty"`
}

// MaxCommandTTL is the longest a command may stay valid: workers refuse
// one whose expiry is further ahead (they remember every command id until
// it expires, so that a replay is refused), and Validate refuses one that
// claims more. The longest our own senders use is a map's cancel (30s).
const MaxCommandTTL = 24 * time.Hour

// NewCommand returns a command named name with a fresh id that expires
// after ttl.
func NewCommand(name string, ttl time.Duration, targets ...string) Command {
	now := time.Now()
	return Command{ID: ids.New(8), Name: name, Sent: now, Expires: now.Add(ttl), Targets: targets}
}

// Validate checks a command before it is sent or obeyed.
func (c Command) Validate() error {
	switch {
	case c.ID == "":
		return fmt.Errorf("pool: command %q has no id", c.Name)
	case !knownCommands[c.Name]:
		return fmt.Errorf("pool: unknown command %q (want ping, stats, quit, restart or cancel)", c.Name)
	case c.Expires.IsZero():
		return fmt.Errorf("pool: command %s (%s) has no expiry", c.ID, c.Name)
	case !c.Sent.IsZero() && c.Expires.Sub(c.Sent) > MaxCommandTTL:
		return fmt.Errorf("pool: command %s (%s) lives %s: at most %s (pool.MaxCommandTTL)",
			c.ID, c.Name, c.Expires.Sub(c.Sent).Round(time.Second), MaxCommandTTL)
	case c.Name == CommandCancel && !wire.ValidMapID(c.Map):
		return fmt.Errorf("pool: command %s (cancel): map id %q: want 1-%d hex digits", c.ID, c.Map, wire.MaxMapID)
	case c.Name != CommandCancel && c.Map != "":
		return fmt.Errorf("pool: command %s (%s) names a map: only cancel does", c.ID, c.Name)
	}
	for _, t := range c.Targets {
		if _, err := path.Match(t, ""); err != nil {
			return fmt.Errorf("pool: command %s: bad target pattern %q: %w", c.ID, t, err)
		}
	}
	return nil
}

var knownCommands = map[string]bool{
	CommandPing: true, CommandStats: true, CommandQuit: true, CommandRestart: true, CommandCancel: true,
}

// Expired says whether the command is too old to obey at now.
func (c Command) Expired(now time.Time) bool { return !now.Before(c.Expires) }

// Matches says whether the worker with this id on this host is one of the
// command's targets.
func (c Command) Matches(workerID, host string) bool {
	if len(c.Targets) == 0 {
		return true
	}
	for _, t := range c.Targets {
		if ok, _ := path.Match(t, workerID); ok {
			return true
		}
		if ok, _ := path.Match(t, host); ok {
			return true
		}
	}
	return false
}

// Reply is a worker's answer to a command.
type Reply struct {
	Command string       `json:"command"` // the command's id
	Name    string       `json:"name"`    // the command's name
	Worker  string       `json:"worker"`
	Error   string       `json:"error,omitempty"`
	Stats   *WorkerStats `json:"stats,omitempty"`
}

// WorkerStats is a snapshot of a worker's counters: what glimpse's ping
// shows (HOST, PID, NREQS, ETIME, MEAN_ETIME, STIME) and more. Workers send
// it in heartbeats and ping replies.
type WorkerStats struct {
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	WorkerID  string    `json:"worker_id"`
	Slots     int       `json:"slots"`
	Functions []string  `json:"functions"` // registered names served
	Start     time.Time `json:"start"`     // STIME: when the worker was made
	Time      time.Time `json:"time"`      // when the snapshot was taken
	// Requests is NREQS: chunks finished, successfully or not.
	Requests int64 `json:"requests"`
	// Failures counts the chunks that ended in an error.
	Failures int64 `json:"failures"`
	// Busy is ETIME: time spent running the finished chunks, summed
	// over slots (so it can exceed the uptime).
	Busy time.Duration `json:"busy_ns"`
	// Active is how many chunks are running now.
	Active int `json:"active"`
	// MemoryRSS is the process's resident memory in bytes (0 if unknown).
	MemoryRSS     int64     `json:"memory_rss,omitempty"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorTime time.Time `json:"last_error_time,omitzero"`

	// RejectedCommands counts the commands the worker refused: unsigned,
	// forged or signed with another key, malformed, expired, or claiming
	// to live too long (a command that came by both paths is not one).
	RejectedCommands int64 `json:"rejected_commands"`
}

// Uptime is the time from Start to the snapshot.
func (s WorkerStats) Uptime() time.Duration { return s.Time.Sub(s.Start) }

// MeanBusy is MEAN_ETIME: the mean time of a finished chunk, or 0 before
// the first.
func (s WorkerStats) MeanBusy() time.Duration {
	if s.Requests == 0 {
		return 0
	}
	return s.Busy / time.Duration(s.Requests)
}
