package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

// writeTasks is the background-task table (bench/tasksbench, step
// "tasks"): glimpse-go's durable tasks beside Celery with redis-server.
func writeTasks(b *strings.Builder, out, name string) error {
	var t benchjson.Tasks
	if err := benchjson.Read(filepath.Join(out, name+".json"), &t); err != nil {
		return err
	}
	if t.EnqueuePerS == 0 {
		return errMissing
	}
	fmt.Fprintf(b, "%s tasks of `examples.square` per measurement, %d worker processes x %d slots. Enqueue: one client, %d goroutines,\n",
		num(float64(t.Tasks)), t.Workers, t.Slots, t.Concurrency)
	fmt.Fprintf(b, "no worker running yet (glimpse-go: SQLite task store, gearmand with a libsqlite3 queue in WAL mode). End to end: from the\n")
	fmt.Fprintf(b, "first enqueue to the last success recorded, with the workers running. Celery: `delay()` one after another, then\n")
	fmt.Fprintf(b, "every result's `get()`, redis-server as broker and result backend (`bench/peers/celery_bg.py`).\n\n")
	fmt.Fprintf(b, "| | enqueues/s | end-to-end tasks/s |\n| --- | ---: | ---: |\n")
	fmt.Fprintf(b, "| glimpse-go tasks | %s | %s |\n", num(t.EnqueuePerS), num(t.EndToEndPerS))
	switch {
	case t.Celery.Error != "":
		fmt.Fprintf(b, "| %s | not measured: %s | |\n", t.Celery.Name, t.Celery.Error)
	case t.Celery.Name != "":
		fmt.Fprintf(b, "| %s | %s | %s |\n", t.Celery.Name, num(t.Celery.EnqueuePerS), num(t.Celery.EndToEndPerS))
	}
	fmt.Fprintf(b, "\nThe tasks queued before the workers started drained at %s tasks/s (worker start included).\n\n", num(t.DrainPerS))
	return nil
}
