package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/pool"
)

const broadcastHelp = `
The command goes to every worker through the fanout worker (start one
with glimpse-cluster fanout): one Gearman job copied to each worker's
command queue. With -via zmq it goes over the broker's command channel
instead and the replies come back on the log channel, which works while
gearmand is down (the answers are collected until 250ms pass without a
new one). Each worker answers on a goroutine that busy slots cannot hold
up, and obeys a command once even if it comes both ways. -w limits it
to workers whose id or host matches one of the comma-separated globs. A
command expires after -t, so a worker that starts later never obeys it.`

// broadcastCommand makes the command line of a broadcast command: the
// command's name is the pool command it sends.
func broadcastCommand(name string, aliases []string, short, long string) *command {
	return &command{
		name:    name,
		aliases: aliases,
		args:    "[-t WAIT] [-w GLOBS] [-via fanout|zmq]",
		short:   short,
		long:    long + broadcastHelp,
		run:     runBroadcast,
	}
}

var (
	pingCommand = broadcastCommand(pool.CommandPing, []string{"PingWorkers"},
		"show every worker that answers, with its stats", `
Prints one row per worker that answered within WAIT:

  WORKER      worker id (host-pid-random)
  HOST, PID
  NREQS       chunks finished          ETIME       busy time, summed
  MEAN_ETIME  mean time of a chunk     STIME       when it started
  UPTIME, FAILURES, ACTIVE (chunks running now), MEMORY (resident)
`)
	statsCommand = broadcastCommand(pool.CommandStats, nil,
		"print every worker's stats as JSON, one line each",
		"\nLike ping, for scripts: one JSON object per worker.\n")
	quitCommand = broadcastCommand(pool.CommandQuit, []string{"KillWorkers"},
		"tell workers to finish their running chunks and exit",
		"\nEach worker stops taking chunks, finishes the ones it runs, and exits 0.\n")
	restartCommand = broadcastCommand(pool.CommandRestart, []string{"RestartWorkers"},
		"tell workers to drain, then start again",
		"\nEach worker drains like quit, then runs its command line again (a new\nbinary on disk is picked up).\n")
)

func runBroadcast(ctx context.Context, e *env, c *command, args []string) int {
	name := c.name
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	cfgPath := fs.String("c", "", "config `FILE` (default: the -c before the command, else $"+config.EnvVar+")")
	wait := durationFlag(fs, "t", 5*time.Second, "wait at most `WAIT` for the answers")
	targets := fs.String("w", "", "only workers whose id or host matches one of these comma-separated `GLOBS`")
	via := fs.String("via", "fanout", "send through the `fanout` worker, or the broker's command channel (`zmq`)")
	if code, ok := e.parseFlags(c, fs, args); !ok {
		return code
	}
	if *wait <= 0 {
		return e.usageError(c, "-t %v: must be positive", *wait)
	}
	if *via != "fanout" && *via != "zmq" {
		return e.usageError(c, "-via %q: want fanout or zmq", *via)
	}
	var globs []string
	if *targets != "" {
		globs = strings.Split(*targets, ",")
	}
	cmd := pool.NewCommand(name, *wait, globs...)
	if err := cmd.Validate(); err != nil {
		return e.usageError(c, "%v", err)
	}
	file, err := e.loadConfig(*cfgPath, true)
	if err != nil {
		return e.configError(c, err)
	}
	ctx, cancel := e.watchSignals(ctx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, *wait)
	defer cancelT()

	var replies []pool.Reply
	if *via == "zmq" {
		replies, err = broadcastZMQ(ctx, file.Client, cmd)
	} else {
		replies, err = broadcastFanout(ctx, file.Client, cmd)
	}
	if err != nil {
		if errors.Is(err, pool.ErrNoFanout) {
			err = fmt.Errorf("%w: start one with %q", err, e.prog+" fanout")
		}
		return e.failure(c, err)
	}
	failed := 0
	switch name {
	case pool.CommandPing:
		t := newTable(e.stdout, "WORKER", "HOST", "PID", "NREQS", "ETIME", "MEAN_ETIME", "STIME", "UPTIME", "FAILURES", "ACTIVE", "MEMORY")
		for _, r := range replies {
			if r.Stats == nil {
				continue
			}
			s := r.Stats
			t.row(s.WorkerID, s.Host, strconv.Itoa(s.PID), strconv.FormatInt(s.Requests, 10),
				seconds(s.Busy), seconds(s.MeanBusy()), s.Start.Format(time.DateTime),
				s.Uptime().Round(time.Second).String(), strconv.FormatInt(s.Failures, 10),
				strconv.Itoa(s.Active), mebibytes(s.MemoryRSS))
		}
		t.flush()
	case pool.CommandStats:
		enc := json.NewEncoder(e.stdout)
		for _, r := range replies {
			if r.Stats != nil {
				enc.Encode(r.Stats)
			}
		}
	default:
		for _, r := range replies {
			if r.Error == "" {
				fmt.Fprintf(e.stdout, "%s: %s\n", r.Worker, name)
			}
		}
	}
	for _, r := range replies {
		if r.Error != "" {
			failed++
			fmt.Fprintf(e.stderr, "%s: %s: %s\n", e.prog, r.Worker, r.Error)
		}
	}
	fmt.Fprintf(e.stderr, "%s: answered by %d workers", name, len(replies)-failed)
	if failed > 0 {
		fmt.Fprintf(e.stderr, ", not by %d", failed)
	}
	fmt.Fprintln(e.stderr)
	if failed > 0 {
		return exitFailure
	}
	return exitOK
}

func broadcastFanout(ctx context.Context, cfg config.Client, cmd pool.Command) ([]pool.Reply, error) {
	p, err := pool.New(cfg)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	return p.Broadcast(ctx, cmd)
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

func mebibytes(n int64) string {
	if n <= 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + "M"
}
