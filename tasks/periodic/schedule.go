package periodic

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/robfig/cron/v3"
)

// Entry is one periodic task.
type Entry struct {
	Name     string          // unique among the entries; the claims are keyed by it
	Schedule string          // cron expression or @every D, as config.ParseSchedule reads it
	Function string          // the registered function to enqueue
	Queue    string          // its task queue; "" = the default
	Item     json.RawMessage // the function's argument as JSON; empty = null
}

// FromConfig turns [periodic NAME] sections into entries.
func FromConfig(ps []config.Periodic) []Entry {
	out := make([]Entry, len(ps))
	for i, p := range ps {
		out[i] = Entry{Name: p.Name, Schedule: p.Schedule, Function: p.Function, Queue: p.Queue, Item: p.Item}
	}
	return out
}

// Validate applies the rules of a [periodic NAME] section; the error is
// a *config.Error naming the key.
func (e Entry) Validate() error {
	return config.Periodic{Name: e.Name, Schedule: e.Schedule, Function: e.Function, Queue: e.Queue, Item: e.Item}.Validate()
}

// Key is the idempotency key of an entry's period: pass it to the tasks
// core so that a period enqueued twice (a claim taken over from a
// scheduler that was slow, not dead) is one task.
func Key(name string, period time.Time) string {
	return "periodic:" + name + ":" + period.UTC().Format(time.RFC3339)
}

// schedule is a parsed Entry.
type schedule struct {
	Entry
	cron cron.Schedule
}

// maxLookBack bounds the search for a schedule's latest period: cron's
// Next gives up after five years too.
const maxLookBack = 6 * 366 * 24 * time.Hour

// latest returns the start of the last period at or before now, or the
// zero time if there is none within maxLookBack.
func (s schedule) latest(now time.Time) time.Time {
	if every, ok := s.cron.(cron.ConstantDelaySchedule); ok {
		d := every.Delay.Milliseconds()
		return time.UnixMilli(now.UnixMilli() / d * d).UTC()
	}
	// Look back twice as far each time until a period is found, then
	// walk forward to the last one not after now.
	for back := time.Minute; back <= maxLookBack; back *= 2 {
		t := s.cron.Next(now.Add(-back))
		if t.IsZero() {
			return time.Time{}
		}
		if t.After(now) {
			continue
		}
		for {
			n := s.cron.Next(t)
			if n.IsZero() || n.After(now) {
				return t.UTC()
			}
			t = n
		}
	}
	return time.Time{}
}

// next returns the start of the first period after now.
func (s schedule) next(now time.Time) time.Time {
	if every, ok := s.cron.(cron.ConstantDelaySchedule); ok {
		return s.latest(now).Add(every.Delay)
	}
	return s.cron.Next(now).UTC()
}

func parseEntries(entries []Entry) ([]schedule, error) {
	seen := make(map[string]bool)
	out := make([]schedule, 0, len(entries))
	for _, e := range entries {
		if err := e.Validate(); err != nil {
			return nil, &EntryError{Name: e.Name, Err: err}
		}
		if seen[e.Name] {
			return nil, &EntryError{Name: e.Name, Err: fmt.Errorf("two entries named %q", e.Name)}
		}
		seen[e.Name] = true
		c, _ := config.ParseSchedule(e.Schedule) // checked by Validate
		out = append(out, schedule{Entry: e, cron: c})
	}
	return out, nil
}

// EntryError names the periodic entry that was refused.
type EntryError struct {
	Name string
	Err  error
}

func (e *EntryError) Error() string { return fmt.Sprintf("periodic: entry %q: %v", e.Name, e.Err) }
func (e *EntryError) Unwrap() error { return e.Err }
