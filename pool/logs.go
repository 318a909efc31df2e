package pool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// LogRecord is one message of the workers' log channel: a log record, or
// with Heartbeat set a heartbeat (the worker's stats, every
// heartbeat_interval).
type LogRecord struct {
	Worker    string       // the worker id, from the message's topic
	Heartbeat *WorkerStats // a heartbeat; nil for a log record

	// A log record's time, level and message; its other keys are in
	// Attrs (numbers as json.Number, durations as text). A time or level
	// that does not parse is left zero and kept in Attrs as it came.
	Time    time.Time
	Level   slog.Level
	Message string
	Attrs   map[string]any
}

// ErrNoBroker is returned by Logs for a pool whose config has no log
// channel ([client] log_backend_url).
var ErrNoBroker = errors.New("pool: the config has no broker URLs ([client] log_backend_url and the others)")

// LogOption filters what Logs yields.
type LogOption func(*logFilter)

type logFilter struct {
	glob       string
	level      slog.Level
	heartbeats bool
}

// LogWorkers keeps the messages of workers whose id matches glob
// (path.Match syntax, "*" for all, the default).
func LogWorkers(glob string) LogOption { return func(f *logFilter) { f.glob = glob } }

// LogLevel keeps the records at level or above (default: all).
func LogLevel(level slog.Level) LogOption { return func(f *logFilter) { f.level = level } }

// LogHeartbeats yields the workers' heartbeats too.
func LogHeartbeats() LogOption { return func(f *logFilter) { f.heartbeats = true } }

// Logs follows the workers' log channel, as glimpse-cluster logs does: it
// subscribes when the iteration starts (at the broker, or with no broker
// by binding the log channel, one client at a time) and yields each log
// record, and heartbeat if asked, that passes the filters, until ctx ends
// (then it just stops) or the channel fails (then it yields the error
// once). With a cluster key, a message not sealed with it is dropped
// unseen. Records published before the subscription reached the broker
// are not received.
func (p *Pool) Logs(ctx context.Context, opts ...LogOption) iter.Seq2[LogRecord, error] {
	f := logFilter{glob: "*", level: slog.LevelDebug - 100}
	for _, o := range opts {
		o(&f)
	}
	return func(yield func(LogRecord, error) bool) {
		if _, err := path.Match(f.glob, ""); err != nil {
			yield(LogRecord{}, fmt.Errorf("pool: logs: worker glob %q: %w", f.glob, err))
			return
		}
		sub, err := p.logSubscriber(f.heartbeats)
		if err != nil {
			yield(LogRecord{}, err)
			return
		}
		defer sub.Close()
		for {
			topic, parts, err := sub.Recv(ctx)
			if err != nil {
				if ctx.Err() == nil {
					yield(LogRecord{}, fmt.Errorf("pool: logs: %w", err))
				}
				return
			}
			rec, ok := p.openLogMessage(topic, parts)
			if ok && f.keep(rec) && !yield(rec, nil) {
				return
			}
		}
	}
}

// logSubscriber subscribes to the log records, and heartbeats if asked.
func (p *Pool) logSubscriber(heartbeats bool) (*broker.Subscriber, error) {
	if !p.cfg.HasBroker() {
		return nil, ErrNoBroker
	}
	topics := []string{wire.TopicLog}
	if heartbeats {
		topics = append(topics, wire.TopicHeartbeat)
	}
	peers, err := broker.ClientPeers(p.cfg)
	if err != nil {
		return nil, fmt.Errorf("pool: logs: %w", err)
	}
	sub, err := peers.LogSubscriber(p.cfg, topics...)
	if err != nil {
		return nil, fmt.Errorf("pool: logs: %w", err)
	}
	return sub, nil
}

// openLogMessage checks a message's seal with the pool's key and decodes
// it; false for a message that fails either.
func (p *Pool) openLogMessage(topic string, parts [][]byte) (LogRecord, bool) {
	if len(parts) != 1 {
		return LogRecord{}, false
	}
	data, err := p.key.Open(auth.PurposeLog, parts[0], []byte(topic))
	if err != nil {
		return LogRecord{}, false
	}
	rec, err := ParseLogMessage(topic, data)
	return rec, err == nil
}

func (f logFilter) keep(rec LogRecord) bool {
	if ok, _ := path.Match(f.glob, rec.Worker); !ok {
		return false
	}
	return rec.Heartbeat != nil || rec.Level >= f.level
}

// ParseLogMessage decodes one message of the log channel, its seal
// already opened: a JSON slog record on topic "log.<worker id>", or a
// JSON WorkerStats on "heartbeat.<worker id>".
func ParseLogMessage(topic string, data []byte) (LogRecord, error) {
	if worker, ok := strings.CutPrefix(topic, wire.TopicHeartbeat); ok {
		var st WorkerStats
		if err := json.Unmarshal(data, &st); err != nil {
			return LogRecord{Worker: worker}, fmt.Errorf("pool: heartbeat of %q: %w", worker, err)
		}
		return LogRecord{Worker: worker, Heartbeat: &st, Time: st.Time}, nil
	}
	worker, ok := strings.CutPrefix(topic, wire.TopicLog)
	if !ok {
		return LogRecord{}, fmt.Errorf("pool: topic %q is not a log record's or a heartbeat's", topic)
	}
	rec := LogRecord{Worker: worker}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // 123456789, not 1.23456789e+08
	if err := dec.Decode(&rec.Attrs); err != nil {
		return rec, fmt.Errorf("pool: log record of %q: %w", worker, err)
	}
	rec.takeHeader()
	return rec, nil
}

// takeHeader moves the time, level and message out of Attrs, and drops
// the worker id (the topic's).
func (r *LogRecord) takeHeader() {
	delete(r.Attrs, "worker")
	if s, ok := r.Attrs[slog.TimeKey].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			r.Time = t
			delete(r.Attrs, slog.TimeKey)
		}
	}
	if s, ok := r.Attrs[slog.LevelKey].(string); ok && r.Level.UnmarshalText([]byte(s)) == nil {
		delete(r.Attrs, slog.LevelKey)
	}
	if m, ok := r.Attrs[slog.MessageKey]; ok {
		r.Message = fmt.Sprint(m)
		delete(r.Attrs, slog.MessageKey)
	}
}
