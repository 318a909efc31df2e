package cli

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/fanout"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/wire"
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
	reports := make([]serverStatus, len(servers))
	var wg sync.WaitGroup
	for i, addr := range servers {
		wg.Go(func() { reports[i] = askServer(ctx, addr, *all, gearman.WithTLS(tlsConf)) })
	}
	wg.Wait()

	var t *table
	code := exitOK
	for _, r := range reports {
		if r.err != nil {
			continue
		}
		if t == nil {
			t = newTable(e.stdout, "JOB SERVER", "FUNCTION", "QUEUED", "RUNNING", "WORKERS", "SLOTS")
		}
		if len(r.funcs) == 0 {
			t.row(r.addr, "(none)", "-", "-", "-", "-")
		}
		for _, f := range r.funcs {
			t.row(r.addr, f.name, strconv.Itoa(f.queued), strconv.Itoa(f.running), strconv.Itoa(f.workers), strconv.Itoa(f.slots))
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
		if r.err != nil {
			fmt.Fprintf(e.stderr, "%s %s: job server %s: %v\n", e.prog, c.name, r.addr, r.err)
			code = exitFailure
		}
	}
	return code
}

type serverStatus struct {
	addr  string
	funcs []functionStatus
	err   error
}

type functionStatus struct {
	name                            string
	queued, running, workers, slots int
}

// askServer reads one job server's "status" and "workers" listings;
// without all, it leaves out the cluster's internal queues.
func askServer(ctx context.Context, addr string, all bool, opts ...gearman.AdminOption) serverStatus {
	r := serverStatus{addr: addr}
	a, err := gearman.DialAdmin(ctx, addr, opts...)
	if err != nil {
		r.err = err
		return r
	}
	defer a.Close()
	st, err := a.Status(ctx)
	if err != nil {
		r.err = err
		return r
	}
	ws, err := a.Workers(ctx)
	if err != nil {
		r.err = err
		return r
	}
	slots := map[string]int{}
	for _, w := range ws {
		n := 1
		if _, s, ok := wire.ParseWorkerClientID(w.ClientID); ok {
			n = s
		}
		for _, f := range w.Functions {
			slots[f] += n
		}
	}
	for _, s := range st {
		if !all && internalQueue(s.Name) {
			continue
		}
		name := s.Name
		if n, ok := strings.CutPrefix(name, wire.GearmanPrefix); ok {
			name = n
		}
		r.funcs = append(r.funcs, functionStatus{
			name: name,
			// gearmand's count includes the running jobs.
			queued:  max(s.Queued-s.Running, 0),
			running: s.Running,
			workers: s.Workers,
			slots:   slots[s.Name],
		})
	}
	slices.SortFunc(r.funcs, func(a, b functionStatus) int { return strings.Compare(a.name, b.name) })
	return r
}

// internalQueue says whether a Gearman function is the cluster's own
// plumbing rather than work: the fanout protocol (gearhorn's functions,
// and __matchmaking between fanout workers) and the workers' command
// queues, which also linger for workers that are gone until the fanout
// worker prunes their subscription.
func internalQueue(name string) bool {
	switch name {
	case fanout.FuncFanout, fanout.FuncSubscribe, fanout.FuncUnsubscribe:
		return true
	}
	return strings.HasPrefix(name, fanout.MatchmakingTopic) || strings.HasPrefix(name, wire.CommandTopic+"_")
}
