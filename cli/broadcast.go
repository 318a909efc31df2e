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

With [client] key_file the command is sealed with the cluster key, and
only replies sealed with it, to this command, count as answers.

Exits 1 when no worker answered, or when one did not: a worker that
failed or refused the command, a subscriber of the fanout worker that
could not be reached, or a worker the job servers list as serving its
command queue, before the command went out and still after the wait,
that stayed silent (each is named on stderr); also when a reply failed
the key check.`

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
	listed, _ := listedWorkers(file.Client.JobServers, cmd, gearman.WithTLS(tlsConf))
	var res broadcastResult
	if *via == "zmq" {
		res, err = broadcastZMQ(ctx, file.Client, cmd)
	} else {
		res.replies, err = broadcastFanout(ctx, file.Client, cmd)
	}
	if err != nil {
		if errors.Is(err, pool.ErrNoFanout) {
			err = fmt.Errorf("%w: start one with %q", err, e.prog+" fanout")
		}
		reportSilent(e, stillListed(file.Client.JobServers, cmd, listed, gearman.WithTLS(tlsConf)))
		return e.failure(c, err)
	}
	printReplies(e, name, res.replies)
	silent := stillListed(file.Client.JobServers, cmd, silentWorkers(listed, res.replies), gearman.WithTLS(tlsConf))
	return reportReplies(e, name, res, silent)
}

// broadcastResult is what a broadcast brought back: the workers' replies,
// and how many replies failed the key check where they cannot be told
// apart by worker (the command channel; the fanout path puts them among
// the replies, with pool.UnauthenticatedReply errors).
type broadcastResult struct {
	replies     []pool.Reply
	refused     int
	lastRefusal error
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
// or when one of them failed, refused, or did not answer at all, or when
// a reply failed the key check.
func reportReplies(e *env, name string, res broadcastResult, silent []string) int {
	failed := 0
	for _, r := range res.replies {
		if r.Error != "" {
			failed++
			fmt.Fprintf(e.stderr, "%s: %s: %s\n", e.prog, r.Worker, r.Error)
		}
	}
	reportSilent(e, silent)
	if res.refused > 0 {
		fmt.Fprintf(e.stderr, "%s: refused %d replies: %s (the last: %v)\n", e.prog, res.refused, pool.UnauthenticatedReply, res.lastRefusal)
	}
	answered := len(res.replies) - failed
	fmt.Fprintf(e.stderr, "%s: answered by %d workers", name, answered)
	if n := failed + len(silent); n > 0 {
		fmt.Fprintf(e.stderr, ", not by %d", n)
	}
	fmt.Fprintln(e.stderr)
	if answered == 0 && failed == 0 && len(silent) == 0 {
		fmt.Fprintf(e.stderr, "%s: no worker answered\n", e.prog)
	}
	if answered == 0 || failed > 0 || len(silent) > 0 || res.refused > 0 {
		return exitFailure
	}
	return exitOK
}

// reportSilent names on stderr the workers that did not answer.
func reportSilent(e *env, silent []string) {
	for _, id := range silent {
		fmt.Fprintf(e.stderr, "%s: %s: did not answer (the job servers list it as connected)\n", e.prog, id)
	}
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

// listedWorkers returns the ids of the glimpse workers that serve their
// command queue (wire.CommandTopic + "_" + id, the fanout's copy of every
// broadcast goes there) on any of the job servers, among those cmd
// targets; the job servers that cannot be asked (ping -via zmq while
// gearmand is down) are skipped, and ok is false if none could be.
func listedWorkers(servers []string, cmd pool.Command, opts ...gearman.AdminOption) (ids []string, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), listWorkersTimeout)
	defer cancel()
	seen := map[string]bool{}
	for _, addr := range servers {
		a, err := gearman.DialAdmin(ctx, addr, opts...)
		if err != nil {
			continue
		}
		st, err := a.Status(ctx)
		a.Close()
		if err != nil {
			continue
		}
		ok = true
		for _, f := range st {
			id, queue := strings.CutPrefix(f.Name, wire.CommandTopic+"_")
			if queue && id != "" && f.Workers > 0 && !seen[id] && cmd.Matches(id, workerHost(id)) {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return ids, ok
}

// stillListed returns the workers of silent that the job servers still
// list once the answers are in: a worker that stopped (or quit) while the
// command was out is not missing, only one that is still connected and
// kept silent. If no job server can be asked now, silent stays as it is.
// (A worker that started after the command went out was never expected.)
func stillListed(servers []string, cmd pool.Command, silent []string, opts ...gearman.AdminOption) []string {
	if len(silent) == 0 {
		return nil
	}
	now, ok := listedWorkers(servers, cmd, opts...)
	if !ok {
		return silent
	}
	var still []string
	for _, id := range silent {
		if slices.Contains(now, id) {
			still = append(still, id)
		}
	}
	return still
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
