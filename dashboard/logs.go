package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// parseRecord reads a worker's JSON slog record; a record that is not
// JSON is kept whole as its message.
func parseRecord(worker string, data []byte) LogRecord {
	rec := LogRecord{Worker: worker, Level: "INFO"}
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if dec.Decode(&fields) != nil {
		rec.Msg = string(data)
		return rec
	}
	if s, ok := fields["level"].(string); ok {
		rec.Level = s
	}
	if s, ok := fields["msg"].(string); ok {
		rec.Msg = s
	}
	if s, ok := fields["time"].(string); ok {
		rec.Time, _ = time.Parse(time.RFC3339Nano, s)
	}
	var attrs []string
	for k, v := range fields {
		if k != "time" && k != "level" && k != "msg" && k != "worker" {
			attrs = append(attrs, k+"="+attrText(v))
		}
	}
	slices.Sort(attrs)
	rec.Attrs = strings.Join(attrs, " ")
	return rec
}

func attrText(v any) string {
	if s, ok := v.(string); ok {
		if strings.ContainsAny(s, " \"=") {
			return fmt.Sprintf("%q", s)
		}
		return s
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// LevelOf is a record's level as slog reads it; unknown levels are INFO.
func LevelOf(r LogRecord) slog.Level {
	var l slog.Level
	if l.UnmarshalText([]byte(r.Level)) != nil {
		return slog.LevelInfo
	}
	return l
}

// record keeps r among the recent ones and hands it to the followers.
func (s *state) record(r LogRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.recent) == recentLogs {
		s.recent = slices.Delete(s.recent, 0, 1)
	}
	s.recent = append(s.recent, r)
	for ch := range s.followers {
		select {
		case ch <- r:
		default: // a slow reader misses it
		}
	}
}

// follow sends the recent records, then the new ones, until ctx ends.
func (s *state) follow(ctx context.Context) <-chan LogRecord {
	ch := make(chan LogRecord, followBuffer+recentLogs)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logsDone {
		close(ch)
		return ch
	}
	for _, r := range s.recent {
		ch <- r
	}
	s.followers[ch] = struct{}{}
	context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.followers[ch]; ok {
			delete(s.followers, ch)
			close(ch)
		}
	})
	return ch
}

// closeLogs ends every follower's channel.
func (s *state) closeLogs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logsDone = true
	for ch := range s.followers {
		delete(s.followers, ch)
		close(ch)
	}
}
