package tasks_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/tasks"
)

// The local cluster runs tasks with no configuration: its gearmand keeps
// a persistent queue, a task's typed result can be looked up, and the
// task (and its key) is removed once its retention has passed.
func TestLocalClusterRunsTasks(t *testing.T) {
	t.Setenv(runsEnv, t.TempDir())
	ctx := testenv.Context(t)
	wc := config.DefaultWorker()
	wc.Slots, wc.LogLevel = 2, slog.LevelWarn
	local, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{Worker: wc, Tasks: config.Tasks{Retention: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	if _, err := os.Stat(filepath.Join(filepath.Dir(local.TasksStore()), "gearmand-queue.db")); err != nil {
		t.Errorf("the local gearmand has no persistent queue: %v", err)
	}
	c := local.Tasks()
	id, err := tasks.Enqueue(ctx, c, recordFn, Job{Key: "local"}, tasks.Key("local"))
	if err != nil {
		t.Fatal(err)
	}
	var task *tasks.Task[string]
	testenv.Eventually(t, ctx, "the task succeeded", func() (bool, error) {
		task, err = tasks.Lookup(ctx, c, recordFn, id)
		return err == nil && task.State == tasks.Succeeded, err
	})
	if task.Value != "done:local" || task.Worker != local.Worker().ID() || task.Attempt != 1 {
		t.Fatalf("task: %+v", task)
	}
	again, err := tasks.Enqueue(ctx, c, recordFn, Job{Key: "local"}, tasks.Key("local"))
	if err != nil || again != id {
		t.Fatalf("same key within the retention: %q, %v; want %q", again, err, id)
	}
	testenv.Eventually(t, ctx, "the task removed after its retention", func() (bool, error) {
		_, err := c.Get(ctx, id)
		return errors.Is(err, tasks.ErrNotFound), nil
	})
	fresh, err := tasks.Enqueue(ctx, c, recordFn, Job{Key: "local"}, tasks.Key("local"), tasks.Countdown(time.Hour))
	if err != nil || fresh == id {
		t.Fatalf("same key after the retention: %q, %v; want a new task", fresh, err)
	}
}
