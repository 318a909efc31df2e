package cli

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/jobstatus"
)

var statusCommand = &command{
	name:  "status",
	args:  "[-a] [-t TIMEOUT]",
	short: "show queued and running jobs, workers and slots per function",
	long: `
Asks every job server of [client] job_server_url, with the Gearman admin
protocol, about each function it knows:

  QUEUED   jobs waiting for a worker
  RUNNING  jobs a worker is running
  WORKERS  worker connections that serve the function
  SLOTS    chunks those workers run at once (a glimpse worker announces
           its slots; any other worker counts as one)

glimpse functions are shown by their registered name (examples.square),
other Gearman functions by their own. The cluster's own queues (the
fanout worker's functions and __matchmaking, and each worker's command
queue glimpse-commands_<worker id>) are shown with -a only. The jobs of
durable tasks are glimpse-task.<name>; below the table, the tasks in
[tasks] store are counted by state (scheduled, queued, running, retrying,
succeeded, failed, cancelled). Exits 1 if a job server or the task store
could not be asked; the rest is still shown.`,
	run: runStatus,
}

func runStatus(ctx context.Context, e *env, c *command, args []string) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	cfgPath := fs.String("c", "", "config `FILE` (default: the -c before the command, else $"+config.EnvVar+")")
	timeout := durationFlag(fs, "t", 10*time.Second, "give up on a job server after `TIMEOUT`")
	all := fs.Bool("a", false, "show the cluster's internal queues too (fanout, __matchmaking, workers' command queues)")
	if code, ok := e.parseFlags(c, fs, args); !ok {
		return code
	}
	if *timeout <= 0 {
		return e.usageError(c, "-t %v: must be positive", *timeout)
	}
	file, err := e.loadConfig(*cfgPath, true)
	if err != nil {
		return e.configError(c, err)
	}
	tlsConf, err := file.Client.TLSConfig()
	if err != nil {
		return e.configError(c, err)
	}
	ctx, cancel := e.watchSignals(ctx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, *timeout)
	defer cancelT()

	servers := file.Client.JobServers
	reports := make([]jobstatus.Server, len(servers))
	var wg sync.WaitGroup
	for i, addr := range servers {
		wg.Go(func() { reports[i] = jobstatus.Ask(ctx, addr, gearman.WithTLS(tlsConf)) })
	}
	wg.Wait()

	var t *table
	code := exitOK
	for _, r := range reports {
		if r.Err != nil {
			continue
		}
		funcs := slices.DeleteFunc(r.Functions, func(f jobstatus.Function) bool { return f.Internal && !*all })
		if t == nil {
			t = newTable(e.stdout, "JOB SERVER", "FUNCTION", "QUEUED", "RUNNING", "WORKERS", "SLOTS")
		}
		if len(funcs) == 0 {
			t.row(r.Addr, "(none)", "-", "-", "-", "-")
		}
		for _, f := range funcs {
			t.row(r.Addr, f.Name, strconv.Itoa(f.Queued), strconv.Itoa(f.Running), strconv.Itoa(f.Workers), strconv.Itoa(f.Slots))
		}
	}
	if t != nil {
		t.flush()
	}
	// With no job server answering there is no cluster to count tasks of.
	if t != nil {
		if err := printTaskCounts(ctx, e.stdout, file); err != nil {
			fmt.Fprintf(e.stderr, "%s %s: tasks: %v\n", e.prog, c.name, err)
			code = exitFailure
		}
	}
	for _, r := range reports {
		if r.Err != nil {
			fmt.Fprintf(e.stderr, "%s %s: job server %s: %v\n", e.prog, c.name, r.Addr, r.Err)
			code = exitFailure
		}
	}
	return code
}
