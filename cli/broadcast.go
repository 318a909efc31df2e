package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
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
	tlsConf, err := file.Client.TLSConfig()
	if err != nil {
		return e.configError(c, err)
	}
	listed := listedWorkers(file.Client.JobServers, cmd, gearman.WithTLS(tlsConf))
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
		printPing(e.stdout, replies)
	case pool.CommandStats:
		printStats(e.stdout, replies)
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

// listWorkersTimeout bounds asking the job servers which workers they
// have, before a broadcast.
const listWorkersTimeout = 2 * time.Second

// listedWorkers returns the ids of the glimpse workers connected to any of
// the job servers that cmd targets; the job servers that cannot be asked
// (ping -via zmq while gearmand is down) are skipped.
func listedWorkers(servers []string, cmd pool.Command, opts ...gearman.AdminOption) []string {
	ctx, cancel := context.WithTimeout(context.Background(), listWorkersTimeout)
	defer cancel()
	seen := map[string]bool{}
	var ids []string
	for _, addr := range servers {
		a, err := gearman.DialAdmin(ctx, addr, opts...)
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
