// Command tasksbench measures durable background tasks (package tasks) on
// this machine: enqueues per second from one client, and end-to-end
// throughput (enqueue to success recorded) with worker processes, with
// gearmand's persistent queue (libsqlite3) and an SQLite task store as the
// local cluster runs them; and, beside them in the same run, Celery with
// redis-server doing the same (bench/peers/celery_bg.py).
//
//	tasksbench [-tasks 20000] [-workers 2] [-slots 4] [-concurrency 64] [-celery-tasks 20000] [-python /usr/bin/python3] [-json FILE]
//
// The worker processes are this binary run as glimpse-cluster (it links the
// example functions and the command line), with a [tasks] store.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchenv"
	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/cli"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/tasks"
)

type result = benchjson.Tasks

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-c" {
		cli.Main() // a worker process: glimpse-cluster -c CONFIG worker
	}
	log.SetFlags(0)
	log.SetPrefix("tasksbench: ")
	n := flag.Int("tasks", 20000, "tasks per measurement")
	workers := flag.Int("workers", 2, "worker processes")
	slots := flag.Int("slots", 4, "slots of each worker process")
	conc := flag.Int("concurrency", 64, "goroutines of the one client that enqueue")
	celeryN := flag.Int("celery-tasks", 20000, "tasks for Celery (0: skip it)")
	peers := flag.String("peers", "bench/peers", "the folder of the Python peers")
	python := flag.String("python", "/usr/bin/python3", "the Python of the Debian packages")
	jsonPath := flag.String("json", "", "also write the figures as JSON to this `FILE`")
	flag.Parse()
	res, err := run(*n, *workers, *slots, *conc)
	if err != nil {
		log.Fatal(err)
	}
	if *celeryN > 0 {
		res.Celery = runCelery(*python, *peers, *celeryN, *workers)
	}
	report(res)
	if *jsonPath != "" {
		if err := benchjson.Write(*jsonPath, res); err != nil {
			log.Fatal(err)
		}
	}
}

// cluster is gearmand with a persistent queue, the task store, and a
// client on both.
type cluster struct {
	dir    string
	cfg    string
	client *tasks.Client
	close  func()
}

func start(ctx context.Context) (*cluster, error) {
	dir, err := os.MkdirTemp("", "tasksbench-")
	if err != nil {
		return nil, err
	}
	queue := filepath.Join(dir, "gearmand-queue.db")
	if err := walQueue(ctx, queue); err != nil {
		return nil, err
	}
	gd, err := benchenv.StartGearmand(ctx, dir, "-q", "libsqlite3", "--libsqlite3-db", queue)
	if err != nil {
		return nil, err
	}
	dsn := filepath.Join(dir, "tasks.db")
	cfg := filepath.Join(dir, "config.ini")
	text := fmt.Sprintf("[client]\njob_server_url = %s\n[worker]\nlog_level = error\n[tasks]\nstore = %s\n", gd.Addr(), dsn)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	gc, err := gearman.NewClient(ctx, []string{gd.Addr()})
	if err != nil {
		return nil, err
	}
	c, err := tasks.NewClient(ctx, db, gc, config.Tasks{})
	if err != nil {
		return nil, err
	}
	return &cluster{dir: dir, cfg: cfg, client: c, close: func() {
		c.Close()
		gc.Close()
		db.Close()
		gd.Stop()
		os.RemoveAll(dir)
	}}, nil
}

// walQueue makes gearmand's queue table in WAL mode, as the local cluster
// does.
func walQueue(ctx context.Context, path string) error {
	db, err := store.Open(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS gearman_queue ( unique_key TEXT, function_name TEXT, priority INTEGER, data BLOB, when_to_run INTEGER, PRIMARY KEY (unique_key, function_name))`)
	return err
}

func run(n, workers, slots, conc int) (*result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cl, err := start(ctx)
	if err != nil {
		return nil, err
	}
	defer cl.close()
	res := &result{Tasks: n, Workers: workers, Slots: slots, Concurrency: conc}
	// 1. Enqueue alone: no worker runs yet, so the client has the machine.
	took, err := enqueue(ctx, cl.client, n, conc)
	if err != nil {
		return nil, err
	}
	res.EnqueuePerS = float64(n) / took.Seconds()
	log.Printf("enqueue: %d tasks in %v: %.0f/s", n, took.Round(time.Millisecond), res.EnqueuePerS)
	w := benchenv.NewWorkers(os.Args[0], cl.cfg, slots)
	defer w.Stop()
	drainStart := time.Now()
	if err := w.Start(workers); err != nil {
		return nil, err
	}
	if err := waitSucceeded(ctx, cl.client, n); err != nil {
		return nil, err
	}
	res.DrainPerS = float64(n) / time.Since(drainStart).Seconds()
	log.Printf("drain of the queued tasks (worker start included): %.0f/s", res.DrainPerS)
	// 2. End to end with the workers running.
	t0 := time.Now()
	if _, err := enqueue(ctx, cl.client, n, conc); err != nil {
		return nil, err
	}
	if err := waitSucceeded(ctx, cl.client, 2*n); err != nil {
		return nil, err
	}
	res.EndToEndPerS = float64(n) / time.Since(t0).Seconds()
	log.Printf("end to end: %d tasks in %v: %.0f/s", n, time.Since(t0).Round(time.Millisecond), res.EndToEndPerS)
	return res, nil
}

// enqueue enqueues n tasks of examples.square from conc goroutines of one
// client.
func enqueue(ctx context.Context, c *tasks.Client, n, conc int) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if _, err := tasks.Enqueue(ctx, c, funcs.Square, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// waitSucceeded polls the store until n tasks have succeeded.
func waitSucceeded(ctx context.Context, c *tasks.Client, n int) error {
	for {
		counts, err := c.Counts(ctx)
		if err != nil {
			return err
		}
		if counts[tasks.Succeeded] >= n {
			return nil
		}
		if counts[tasks.Failed] > 0 {
			return fmt.Errorf("%d tasks failed", counts[tasks.Failed])
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d tasks to succeed (%v): %w", n, counts, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// runCelery runs bench/peers/celery_bg.py: the same two measurements on
// Celery with redis-server.
func runCelery(python, peers string, n, workers int) benchjson.TasksPeer {
	out := benchjson.TasksPeer{Name: "Celery + redis-server"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "celery_bg.py", "--tasks", strconv.Itoa(n), "--workers", strconv.Itoa(workers))
	cmd.Dir = peers
	cmd.Stderr = os.Stderr
	data, err := cmd.Output()
	if err != nil {
		out.Error = err.Error()
		log.Printf("celery: %v", err)
		return out
	}
	for _, l := range strings.Split(string(data), "\n") {
		if j, ok := strings.CutPrefix(l, "RESULT "); ok {
			if err := json.Unmarshal([]byte(j), &out); err != nil {
				out.Error = err.Error()
			}
		}
	}
	return out
}

func report(r *result) {
	fmt.Printf("\nbackground tasks: %d tasks, %d worker processes x %d slots, %d enqueuing goroutines\n", r.Tasks, r.Workers, r.Slots, r.Concurrency)
	fmt.Printf("%-24s %14s %14s\n", "", "enqueue/s", "end-to-end/s")
	fmt.Printf("%-24s %14.0f %14.0f\n", "glimpse-go tasks", r.EnqueuePerS, r.EndToEndPerS)
	if r.Celery.Error != "" {
		fmt.Printf("%-24s %s\n", r.Celery.Name, "not measured: "+r.Celery.Error)
	} else if r.Celery.Name != "" {
		fmt.Printf("%-24s %14.0f %14.0f\n", r.Celery.Name, r.Celery.EnqueuePerS, r.Celery.EndToEndPerS)
	}
}
