package pool_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// TestLogsRefusesWhatItCannotFollow: a pool with no broker, and a bad
// worker glob, yield one error at once.
func TestLogsRefusesWhatItCannotFollow(t *testing.T) {
	p := newPool(t, "", 0, gearmand(t))
	for rec, err := range p.Logs(testenv.Context(t)) {
		if !errors.Is(err, pool.ErrNoBroker) {
			t.Errorf("Logs without a broker yielded %+v, %v; want ErrNoBroker", rec, err)
		}
	}
	n := 0
	for _, err := range p.Logs(testenv.Context(t), pool.LogWorkers("[")) {
		n++
		if err == nil {
			t.Error("Logs with the glob [ yielded a record")
		}
	}
	if n != 1 {
		t.Errorf("Logs with a bad glob yielded %d times, want one error", n)
	}
}

// TestParseLogMessage decodes a record and a heartbeat as workers publish
// them; a time or level that does not parse stays among the attributes.
func TestParseLogMessage(t *testing.T) {
	rec, err := pool.ParseLogMessage("log.w1", []byte(`{"time":"2026-11-30T05:30:00.5Z","level":"WARN","msg":"chunk failed","worker":"w1","function":"f","bytes":123456789}`))
	if err != nil || rec.Worker != "w1" || rec.Level != slog.LevelWarn || rec.Message != "chunk failed" ||
		rec.Time.UnixMilli()%1000 != 500 || rec.Attrs["function"] != "f" || rec.Attrs["bytes"] != json.Number("123456789") || len(rec.Attrs) != 2 {
		t.Errorf("record: %+v, %v", rec, err)
	}
	rec, err = pool.ParseLogMessage("log.w1", []byte(`{"time":"T","level":"LOUD","msg":"m"}`))
	if err != nil || !rec.Time.IsZero() || rec.Attrs["time"] != "T" || rec.Attrs["level"] != "LOUD" || rec.Message != "m" {
		t.Errorf("record with a bad time and level: %+v, %v", rec, err)
	}
	rec, err = pool.ParseLogMessage("heartbeat.w2", []byte(`{"worker_id":"w2","pid":42,"slots":3}`))
	if err != nil || rec.Worker != "w2" || rec.Heartbeat == nil || rec.Heartbeat.PID != 42 || rec.Heartbeat.Slots != 3 {
		t.Errorf("heartbeat: %+v, %v", rec, err)
	}
	if _, err := pool.ParseLogMessage("log.w1", []byte("not json")); err == nil {
		t.Error("a record that is not JSON parsed")
	}
}
