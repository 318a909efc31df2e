package cluster

import (
	"errors"
	"log/slog"

	"github.com/glimpse-go/glimpse/pool"
)

// failureLevel is the level a failed chunk is logged at: a WARN, since the
// map that sent it fails; an ERROR when the function panicked, a bug that
// an operator watching "logs -l warn" or "-l error" must see.
func failureLevel(err error) slog.Level {
	var te *pool.TaskError
	if errors.As(err, &te) && te.Panic {
		return slog.LevelError
	}
	return slog.LevelWarn
}

// durationsAsText is the ReplaceAttr of the JSON records a worker
// publishes on the log channel: JSON has no duration type, and slog would
// write one as a count of nanoseconds (took=1.0787206e+07 in "logs"), so
// durations travel as text that keeps their unit ("10.787206ms").
func durationsAsText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}
