package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
	"github.com/glimpse-go/glimpse/tasks"
)

var cliTaskFn = pool.Register("tasktest.echo", func(_ context.Context, s string) (string, error) { return s, nil })

// tasks lists, shows, cancels and retries tasks; status counts them.
func TestTasksCommand(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	dsn := filepath.Join(t.TempDir(), "tasks.db")
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := tasks.NewClient(ctx, db, nil, config.Tasks{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := tasks.Enqueue(ctx, c, cliTaskFn, "x", tasks.Countdown(time.Hour), tasks.Key("the-key"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(config.EnvVar, writeConfig(t, []string{srv.Addr()}, "[tasks]", "store = "+dsn))

	code, out, errOut := runCLI(t, "tasks", "list", "-state", "scheduled")
	if code != exitOK || !strings.Contains(out, string(id)) || !strings.Contains(out, "tasktest.echo") {
		t.Fatalf("tasks list: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "tasks", "show", string(id))
	if code != exitOK || !strings.Contains(out, "the-key") || !strings.Contains(out, "scheduled") {
		t.Fatalf("tasks show: %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "status")
	if code != exitOK || !strings.Contains(out, "SCHEDULED") || !strings.Contains(out, "RETRYING") {
		t.Fatalf("status: %d\n%s", code, out)
	}
	if code, out, errOut = runCLI(t, "tasks", "cancel", string(id)); code != exitOK {
		t.Fatalf("tasks cancel: %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut = runCLI(t, "tasks", "cancel", string(id)); code != exitFailure || !strings.Contains(errOut, "it is cancelled") {
		t.Fatalf("second cancel: %d %s", code, errOut)
	}
	if code, _, errOut = runCLI(t, "tasks", "retry", string(id)); code != exitOK {
		t.Fatalf("tasks retry: %d %s", code, errOut)
	}
	if code, _, errOut = runCLI(t, "tasks", "show", "0123456789abcdef0123456789abcdef"); code != exitFailure || !strings.Contains(errOut, "no such task") {
		t.Fatalf("show of a missing task: %d %s", code, errOut)
	}
	if code, _, errOut = runCLI(t, "tasks", "list", "-state", "bogus"); code != exitUsage || !strings.Contains(errOut, "want one of") {
		t.Fatalf("bad state: %d %s", code, errOut)
	}
}
