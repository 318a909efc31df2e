package cli

import (
	"io"
	"strconv"
	"time"

	"github.com/glimpse-go/glimpse/pool"
)

var pingCommand = broadcastCommand(pool.CommandPing, []string{"PingWorkers"},
	"show every worker that answers, with its stats", `
Prints one row per worker that answered within WAIT:

  WORKER      worker id (host-pid-random)
  HOST, PID
  NREQS       chunks finished          ETIME       busy time, summed (1.23s)
  MEAN_ETIME  mean time of a chunk     STIME       when it started
  UPTIME, FAILURES, ACTIVE (chunks running now), MEMORY (resident)
  REJECTED    commands it refused (unsigned, forged, expired: see WARN
              "command refused" in its log)
`)

// printPing writes one table row per worker that sent its stats.
func printPing(w io.Writer, replies []pool.Reply) {
	t := newTable(w, "WORKER", "HOST", "PID", "NREQS", "ETIME", "MEAN_ETIME", "STIME", "UPTIME", "FAILURES", "ACTIVE", "MEMORY", "REJECTED")
	for _, r := range replies {
		if r.Stats == nil {
			continue
		}
		s := r.Stats
		t.row(s.WorkerID, s.Host, strconv.Itoa(s.PID), strconv.FormatInt(s.Requests, 10),
			shortDuration(s.Busy), shortDuration(s.MeanBusy()), s.Start.Format(time.DateTime),
			s.Uptime().Round(time.Second).String(), strconv.FormatInt(s.Failures, 10),
			strconv.Itoa(s.Active), mebibytes(s.MemoryRSS), strconv.FormatInt(s.RejectedCommands, 10))
	}
	t.flush()
}

// shortDuration writes d with its unit and about three significant
// digits: 137.35µs, 10.79ms, 1.23s, 2m3.45s.
func shortDuration(d time.Duration) string {
	for _, unit := range []time.Duration{time.Second, time.Millisecond, time.Microsecond} {
		if d >= unit {
			return d.Round(unit / 100).String()
		}
	}
	return d.String()
}

func mebibytes(n int64) string {
	if n <= 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + "M"
}
