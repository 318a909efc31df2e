package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/tasks"
)

var tasksCommand = &command{
	name:  "tasks",
	args:  "[list [-state STATE] [-f FUNC] [-n N]] | show ID | retry ID | cancel ID",
	short: "list, show, retry or cancel durable background tasks",
	long: `
Reads the task records in [tasks] store (default: the [fanout] store):

  tasks [list]   the newest tasks, at most -n (default 50), with -state
                 (scheduled, queued, running, retrying, succeeded, failed,
                 cancelled) and -f FUNC to select
  tasks show ID  one task: its state, times, worker, attempts and their
                 errors
  tasks retry ID run a failed or cancelled task again, now
  tasks cancel ID
                 cancel a scheduled, queued or retrying task

Exits 1 if the task is missing or in the wrong state for retry or cancel.`,
	run: runTasks,
}

func runTasks(ctx context.Context, e *env, c *command, args []string) int {
	sub := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	cfgPath := fs.String("c", "", "config `FILE` (default: the -c before the command, else $"+config.EnvVar+")")
	state := fs.String("state", "", "list only tasks in `STATE`")
	fn := fs.String("f", "", "list only tasks of the registered function `FUNC`")
	n := fs.Int("n", 50, "list at most `N` tasks")
	var id string
	if sub != "list" {
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			return e.usageError(c, "tasks %s: missing the task ID", sub)
		}
		id, args = args[0], args[1:]
	}
	if code, ok := e.parseFlags(c, fs, args); !ok {
		return code
	}
	if *state != "" && !validState(tasks.State(*state)) {
		return e.usageError(c, "-state %q: want one of %s", *state, stateNames())
	}
	file, err := e.loadConfig(*cfgPath, true)
	if err != nil {
		return e.configError(c, err)
	}
	ctx, cancel := e.watchSignals(ctx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 30*time.Second)
	defer cancelT()
	client, closeClient, err := openTasksClient(ctx, file)
	if err != nil {
		return e.failure(c, err)
	}
	defer closeClient()
	switch sub {
	case "list":
		err = listTasks(ctx, e.stdout, client, tasks.Filter{State: tasks.State(*state), Func: *fn, Limit: *n})
	case "show":
		err = showTask(ctx, e.stdout, client, tasks.ID(id))
	case "retry":
		err = client.Retry(ctx, tasks.ID(id))
	case "cancel":
		err = client.Cancel(ctx, tasks.ID(id))
	default:
		return e.usageError(c, "unknown subcommand %q: want list, show, retry or cancel", sub)
	}
	if err != nil {
		return e.failure(c, err)
	}
	return exitOK
}

func validState(s tasks.State) bool {
	for _, v := range tasks.States {
		if v == s {
			return true
		}
	}
	return false
}

func stateNames() string {
	var s []string
	for _, v := range tasks.States {
		s = append(s, string(v))
	}
	return strings.Join(s, ", ")
}

// errNoTaskStore says that the default SQLite task store does not exist:
// no task was ever enqueued with this config.
var errNoTaskStore = errors.New("no task store")

// openTasksClient opens the task store of file for reading and changing
// records; it needs no job server.
func openTasksClient(ctx context.Context, file *config.File) (*tasks.Client, func(), error) {
	dsn, err := file.Tasks.StorePath(file.Fanout)
	if err != nil {
		return nil, nil, err
	}
	if !store.IsPostgres(dsn) {
		if _, err := os.Stat(dsn); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", errNoTaskStore, err)
		}
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	c, err := tasks.NewClient(ctx, db, nil, file.Tasks)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return c, func() { c.Close(); db.Close() }, nil
}

func listTasks(ctx context.Context, w io.Writer, c *tasks.Client, f tasks.Filter) error {
	list, err := c.List(ctx, f)
	if err != nil {
		return err
	}
	t := newTable(w, "ID", "FUNCTION", "QUEUE", "STATE", "ATTEMPT", "CREATED", "ETA", "WORKER", "ERROR")
	for _, in := range list {
		t.row(string(in.ID), in.Func, in.Queue, string(in.State), fmt.Sprintf("%d/%d", in.Attempt, in.MaxAttempts),
			stamp(in.Created), stamp(in.ETA), dash(in.Worker), dash(firstLine(in.Error)))
	}
	return t.flush()
}

func showTask(ctx context.Context, w io.Writer, c *tasks.Client, id tasks.ID) error {
	in, err := c.Get(ctx, id)
	if err != nil {
		return err
	}
	t := newTable(w, "FIELD", "VALUE")
	for _, kv := range [][2]string{
		{"id", string(in.ID)}, {"function", in.Func}, {"queue", in.Queue}, {"key", dash(in.Key)},
		{"state", string(in.State)}, {"attempt", fmt.Sprintf("%d of %d", in.Attempt, in.MaxAttempts)},
		{"created", stamp(in.Created)}, {"eta", stamp(in.ETA)}, {"started", stamp(in.Started)},
		{"finished", stamp(in.Finished)}, {"worker", dash(in.Worker)}, {"error", dash(firstLine(in.Error))},
		{"result", strconv.Itoa(len(in.Result)) + " bytes"},
	} {
		t.row(kv[0], kv[1])
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(in.Attempts) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	a := newTable(w, "ATTEMPT", "WORKER", "STARTED", "ENDED", "ERROR")
	for _, at := range in.Attempts {
		a.row(strconv.Itoa(at.N), at.Worker, stamp(at.Started), stamp(at.Ended), dash(firstLine(at.Error)))
	}
	return a.flush()
}

// printTaskCounts adds the task counts by state to status; a cluster
// whose default task store does not exist has none, and says nothing.
func printTaskCounts(ctx context.Context, w io.Writer, file *config.File) error {
	c, closeClient, err := openTasksClient(ctx, file)
	if errors.Is(err, errNoTaskStore) {
		return nil
	}
	if err != nil {
		return err
	}
	defer closeClient()
	counts, err := c.Counts(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(w)
	t := newTable(w, "TASKS", "SCHEDULED", "QUEUED", "RUNNING", "RETRYING", "SUCCEEDED", "FAILED", "CANCELLED")
	row := []string{"all"}
	for _, s := range tasks.States {
		row = append(row, strconv.Itoa(counts[s]))
	}
	t.row(row...)
	return t.flush()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05.000")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
