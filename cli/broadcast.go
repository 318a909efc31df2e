package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/wire"
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
command expires after -t, so a worker that starts later never obeys it.
-t takes a duration (500ms, 1m) or a number of seconds (2, 2.5).

Exits 1 when no worker answered, or when one did not: a worker that
failed or refused the command, a subscriber of the fanout worker that
could not be reached, or a worker the job servers listed before the
command went out and that stayed silent (each is named on stderr).`

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
  NREQS       chunks finished          ETIME       busy time, summed (1.23s)
  MEAN_ETIME  mean time of a chunk     STIME       when it started
  UPTIME, FAILURES, ACTIVE (chunks running now), MEMORY (resident)
`)
	statsCommand = broadcastCommand(pool.CommandStats, nil,
		"print every worker's stats as JSON, one line each",
		"\nLike ping, for scripts: one JSON object per worker.\n")
	quitCommand = broadcastCommand(pool.CommandQuit, []string{"KillWorkers"},
		"tell workers to finish their running chunks and exit",
		"\nEach worker stops taking chunks, finishes the ones it runs, and exits 0.\n"+
			"glimpse-cluster local stops its whole local cluster; the worker of a\n"+
			"program's cluster.StartLocal refuses (stop that program instead).\n")
	restartCommand = broadcastCommand(pool.CommandRestart, []string{"RestartWorkers"},
		"tell workers to drain, then start again",
		"\nEach worker drains like quit, then runs its command line again (a new\nbinary on disk is picked up). glimpse-cluster local replaces its worker\nwith a new one in the same process; cluster.StartLocal's worker refuses.\n")
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

	// The workers the job servers list before the command goes out: any
	// of them that does not answer is reported.
	listed := listedWorkers(file.Client.JobServers, cmd)
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
	printReplies(e, name, replies)
	return reportReplies(e, name, replies, silentWorkers(listed, replies))
}

// printReplies writes the answers of the workers that obeyed to stdout.
func printReplies(e *env, name string, replies []pool.Reply) {
	switch name {
	case pool.CommandPing:
		t := newTable(e.stdout, "WORKER", "HOST", "PID", "NREQS", "ETIME", "MEAN_ETIME", "STIME", "UPTIME", "FAILURES", "ACTIVE", "MEMORY")
		for _, r := range replies {
			if r.Stats == nil {
				continue
			}
			s := r.Stats
			t.row(s.WorkerID, s.Host, strconv.Itoa(s.PID), strconv.FormatInt(s.Requests, 10),
				shortDuration(s.Busy), shortDuration(s.MeanBusy()), s.Start.Format(time.DateTime),
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
}

// reportReplies writes who failed or refused, who stayed silent, and the
// count to stderr, and returns the exit status: 1 when no worker answered,
// or when one of them failed, refused, or did not answer at all.
func reportReplies(e *env, name string, replies []pool.Reply, silent []string) int {
	failed := 0
	for _, r := range replies {
		if r.Error != "" {
			failed++
			fmt.Fprintf(e.stderr, "%s: %s: %s\n", e.prog, r.Worker, r.Error)
		}
	}
	for _, id := range silent {
		fmt.Fprintf(e.stderr, "%s: %s: did not answer (the job servers list it as connected)\n", e.prog, id)
	}
	answered := len(replies) - failed
	fmt.Fprintf(e.stderr, "%s: answered by %d workers", name, answered)
	if n := failed + len(silent); n > 0 {
		fmt.Fprintf(e.stderr, ", not by %d", n)
	}
	fmt.Fprintln(e.stderr)
	if answered == 0 && failed == 0 && len(silent) == 0 {
		fmt.Fprintf(e.stderr, "%s: no worker answered\n", e.prog)
	}
	if answered == 0 || failed > 0 || len(silent) > 0 {
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

// listWorkersTimeout bounds asking the job servers which workers they
// have, before a broadcast.
const listWorkersTimeout = 2 * time.Second

// listedWorkers returns the ids of the glimpse workers connected to any of
// the job servers that cmd targets; the job servers that cannot be asked
// (ping -via zmq while gearmand is down) are skipped.
func listedWorkers(servers []string, cmd pool.Command) []string {
	ctx, cancel := context.WithTimeout(context.Background(), listWorkersTimeout)
	defer cancel()
	seen := map[string]bool{}
	var ids []string
	for _, addr := range servers {
		a, err := gearman.DialAdmin(ctx, addr)
		if err != nil {
			continue
		}
		ws, _ := a.Workers(ctx)
		a.Close()
		for _, w := range ws {
			id, _, ok := wire.ParseWorkerClientID(w.ClientID)
			if ok && !seen[id] && cmd.Matches(id, workerHost(id)) {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// workerHost is the host part of a worker id, "host-pid-random".
func workerHost(id string) string {
	host := id
	for range 2 {
		if i := strings.LastIndexByte(host, '-'); i > 0 {
			host = host[:i]
		}
	}
	return host
}

// silentWorkers returns the listed workers that are not among replies.
func silentWorkers(listed []string, replies []pool.Reply) []string {
	var silent []string
	for _, id := range listed {
		if !slices.ContainsFunc(replies, func(r pool.Reply) bool { return r.Worker == id }) {
			silent = append(silent, id)
		}
	}
	return silent
}
