package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

// addTaskStore gives the config a [tasks] store in dir, for the gateway's
// task routes and the workers' task runner.
func addTaskStore(cfgPath, dir string) error {
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "[tasks]\nstore = %s\n", filepath.Join(dir, "tasks.db"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// receiver is the web daemon the webhook tasks call: it counts the calls.
type receiver struct {
	srv   *http.Server
	url   string
	calls atomic.Int64
}

func startReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &receiver{url: "http://" + ln.Addr().String() + "/hook"}
	rc.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		rc.calls.Add(1)
	})}
	go rc.srv.Serve(ln)
	return rc, nil
}

func (rc *receiver) close() { rc.srv.Close() }

// measureTasks measures POST /queue: enqueues of tasks due in an hour,
// then webhook deliveries of tasks due now, end to end.
func measureTasks(ctx context.Context, base string, res *benchjson.Gateway) error {
	rc, err := startReceiver()
	if err != nil {
		return err
	}
	defer rc.close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: res.Clients, MaxConnsPerHost: res.Clients}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	b := &bencher{ctx: ctx, client: client, base: base + "queue"}
	later := func(i int) error { return b.enqueue(rc.url, i, "3600") }
	if res.EnqueuesPerS, err = median(res.Rounds, res.Enqueues, func() error { return b.concurrently(res.Clients, res.Enqueues, later) }); err != nil {
		return err
	}
	now := func(i int) error { return b.enqueue(rc.url, i, "0") }
	res.DeliveriesPerS, err = median(res.Rounds, res.Deliveries, func() error {
		start := rc.calls.Load()
		if err := b.concurrently(res.Clients, res.Deliveries, now); err != nil {
			return err
		}
		return rc.await(ctx, start+int64(res.Deliveries))
	})
	return err
}

// enqueue posts Miyamoto's form: a task calling url with one param.
func (b *bencher) enqueue(hook string, i int, countdown string) error {
	form := url.Values{"task.url": {hook}, "task.countdown": {countdown}, "i": {strconv.Itoa(i)}}
	out, err := b.post("", "application/x-www-form-urlencoded", []byte(form.Encode()))
	if err == nil && len(out) < len(`{"status":"scheduled","id":""}`) {
		err = fmt.Errorf("enqueue answered %q", out)
	}
	return err
}

// await waits for the receiver's count to reach n, for at most 5 minutes.
func (rc *receiver) await(ctx context.Context, n int64) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for rc.calls.Load() < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("receiver got %d of %d webhook calls: %w", rc.calls.Load(), n, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}
