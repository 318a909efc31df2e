package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchenv"
	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/config"
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
// in turn with the same requests to a no-op server, then webhook
// deliveries of tasks due now, end to end.
func measureTasks(ctx context.Context, gw *exec.Cmd, base string, res *benchjson.Gateway) error {
	rc, err := startReceiver()
	if err != nil {
		return err
	}
	defer rc.close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: res.Clients, MaxConnsPerHost: res.Clients}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	b := &bencher{ctx: ctx, client: client, base: base + "queue"}
	if err := measureEnqueues(ctx, b, gw, rc.url, res); err != nil {
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

// measureEnqueues takes rounds of enqueues due in an hour through the
// gateway and of the same requests to a no-op server, in turn, so that
// both see the same machine.
func measureEnqueues(ctx context.Context, b *bencher, gw *exec.Cmd, hook string, res *benchjson.Gateway) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), noopEnv+"=1")
	noop, noopURL, err := startServer(cmd)
	if err != nil {
		return err
	}
	defer benchenv.Terminate([]*exec.Cmd{noop})
	nb := &bencher{ctx: ctx, client: b.client, base: noopURL + "queue"}
	ab, err := startAB(hook, res)
	if err != nil {
		return err
	}
	defer ab.close()
	var enq, ceil, abEnq, abCeil []cpuRound
	for range res.Rounds {
		r, err := b.enqueueRound(res.Clients, res.Enqueues, gw.Process.Pid, hook)
		if err != nil {
			return err
		}
		enq = append(enq, r)
		if r, err = nb.enqueueRound(res.Clients, res.Enqueues, noop.Process.Pid, hook); err != nil {
			return fmt.Errorf("no-op server: %w", err)
		}
		ceil = append(ceil, r)
		if ab.bench == nil {
			continue
		}
		if r, err = b.abEnqueueRound(ab.bench, gwBase(b), res.Clients, res.Enqueues, gw.Process.Pid); err != nil {
			return err
		}
		abEnq = append(abEnq, r)
		if r, err = ab.bench.round(ctx, nb.base, res.Clients, res.Enqueues, noop.Process.Pid); err != nil {
			return fmt.Errorf("no-op server: %w", err)
		}
		abCeil = append(abCeil, r)
	}
	m := medianRound(enq)
	res.EnqueuesPerS, res.EnqueueServerCPUus, res.EnqueueClientCPUus = m.rate, m.server, m.client
	m = medianRound(ceil)
	res.CeilingPerS, res.CeilingServerCPUus, res.CeilingClientCPUus = m.rate, m.server, m.client
	if ab.bench != nil {
		m = medianRound(abEnq)
		res.ABEnqueuesPerS, res.ABEnqueueServerCPUus, res.ABEnqueueClientCPUus = m.rate, m.server, m.client
		m = medianRound(abCeil)
		res.ABCeilingPerS, res.ABCeilingServerCPUus, res.ABCeilingClientCPUus = m.rate, m.server, m.client
	}
	return nil
}

// gwBase is the gateway's URL of b, whose base is its /queue.
func gwBase(b *bencher) string { return strings.TrimSuffix(b.base, "queue") }

// abRun is ab's set-up for the enqueue rounds: nil bench when ab is
// missing, which res.ABError says (and the console, at once).
type abRun struct {
	bench *abBench
	dir   string
}

func startAB(hook string, res *benchjson.Gateway) (*abRun, error) {
	dir, err := os.MkdirTemp("", "gatewaybench-ab")
	if err != nil {
		return nil, err
	}
	a := &abRun{dir: dir}
	a.bench, err = newABBench(dir, hook)
	if errors.Is(err, errNoAB) {
		res.ABError = err.Error()
		log.Printf("MISSING: %v; the ab rows are not measured", err)
		return a, nil
	}
	if err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

func (a *abRun) close() { os.RemoveAll(a.dir) }

// cpuRound is one round of n requests: their rate, and the CPU µs per
// request of the server process and of this process.
type cpuRound struct {
	rate, server, client float64
}

func (b *bencher) enqueueRound(clients, n, pid int, hook string) (cpuRound, error) {
	later := func(i int) error { return b.enqueue(hook, i, "3600") }
	srv0, self0 := benchenv.ProcCPU([]int{pid})[0], selfCPU()
	start := time.Now()
	if err := b.concurrently(clients, n, later); err != nil {
		return cpuRound{}, err
	}
	took := time.Since(start)
	srv, self := benchenv.ProcCPU([]int{pid})[0]-srv0, selfCPU()-self0
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	return cpuRound{rate: float64(n) / took.Seconds(), server: per(srv), client: per(self)}, nil
}

func medianRound(rs []cpuRound) cpuRound {
	slices.SortFunc(rs, func(a, b cpuRound) int { return cmp.Compare(a.rate, b.rate) })
	return rs[len(rs)/2]
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// noopEnv makes this program a no-op HTTP server (serveNoop).
const noopEnv = "GATEWAYBENCH_NOOP_SERVER"

// serveNoop serves every request as the gateway answers an enqueue,
// doing nothing else: net/http with Serve's timeouts, the body read, a
// fixed {"status":"scheduled","id":...}. It prints its URL, and ends
// with its parent.
func serveNoop() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	answer := []byte(`{"status":"scheduled","id":"0123456789abcdef0123456789abcdef"}` + "\n")
	def := config.DefaultHTTP()
	srv := &http.Server{ReadHeaderTimeout: min(def.ReadTimeout, 10*time.Second), ReadTimeout: def.ReadTimeout,
		WriteTimeout: def.ReadTimeout + def.WriteTimeout, IdleTimeout: 2 * time.Minute,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.Write(answer)
		})}
	fmt.Printf("noop: http://%s/\n", ln.Addr())
	log.Fatal(srv.Serve(ln))
}

// measurePostgres starts another gateway whose task store is
// postgresURL and measures its enqueues as measureEnqueues does (without
// the no-op rounds).
func measurePostgres(ctx context.Context, bin, cfgPath string, res *benchjson.Gateway) error {
	pgConfig, err := withTaskStore(cfgPath, postgresURL)
	if err != nil {
		return err
	}
	gw, base, err := startGateway(ctx, bin, pgConfig)
	if err != nil {
		return err
	}
	defer benchenv.Terminate([]*exec.Cmd{gw})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: res.Clients, MaxConnsPerHost: res.Clients}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	b := &bencher{ctx: ctx, client: client, base: base + "queue"}
	var rs []cpuRound
	for range res.Rounds {
		r, err := b.enqueueRound(res.Clients, res.Enqueues, gw.Process.Pid, "http://127.0.0.1:9/hook")
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		rs = append(rs, r)
	}
	m := medianRound(rs)
	res.PostgresEnqueuesPerS, res.PostgresEnqueueServerCPU = m.rate, m.server
	return nil
}

// withTaskStore writes a copy of the config at cfgPath whose [tasks]
// store is dsn, and returns its path.
func withTaskStore(cfgPath, dsn string) (string, error) {
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return "", err
	}
	re := regexp.MustCompile(`(?m)^store = .*tasks\.db$`)
	if !re.Match(data) {
		return "", fmt.Errorf("%s: no [tasks] store line to replace", cfgPath)
	}
	path := strings.TrimSuffix(cfgPath, filepath.Ext(cfgPath)) + "-postgres.ini"
	return path, os.WriteFile(path, re.ReplaceAll(data, []byte("store = "+dsn)), 0o600)
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
