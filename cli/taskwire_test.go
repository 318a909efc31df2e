package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/gearmand"
	"github.com/glimpse-go/glimpse/internal/gearmantest"
	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
	"github.com/glimpse-go/glimpse/tasks"
	"github.com/glimpse-go/glimpse/tasks/periodic"
	"github.com/glimpse-go/glimpse/webhook"
)

// runRecord is what recordRun is given: the file it appends to, and how
// long it runs.
type runRecord struct {
	File    string
	SleepMS int
}

// recordRun appends "start NANOS" when it starts and "end NANOS" when it
// ends to File, so that a test counts runs and overlaps across worker
// processes.
var recordRun = pool.Register("taskwire.record", func(ctx context.Context, r runRecord) (int, error) {
	appendLine(r.File, fmt.Sprintf("start %d", time.Now().UnixNano()))
	time.Sleep(time.Duration(r.SleepMS) * time.Millisecond)
	appendLine(r.File, fmt.Sprintf("end %d", time.Now().UnixNano()))
	return os.Getpid(), nil
})

func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err == nil {
		fmt.Fprintln(f, line)
		f.Close()
	}
}

// recorded returns the start and end times in a recordRun file.
func recorded(t *testing.T, path string) (starts, ends []time.Time) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		kind, ns, ok := strings.Cut(line, " ")
		n, err := strconv.ParseInt(ns, 10, 64)
		if !ok || err != nil {
			continue
		}
		if kind == "start" {
			starts = append(starts, time.Unix(0, n))
		} else {
			ends = append(ends, time.Unix(0, n))
		}
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	return starts, ends
}

// maxInWindow is the most times within any window of d.
func maxInWindow(ts []time.Time, d time.Duration) int {
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= d {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// taskCluster is a gearmand, a task store and a config naming both (with
// extra lines), for worker processes.
type taskCluster struct {
	srv    *gearmand.Process
	dsn    string
	config string
	client *tasks.Client
}

func newTaskCluster(t *testing.T, ctx context.Context, extra ...string) *taskCluster {
	t.Helper()
	return newTaskClusterOn(t, ctx, filepath.Join(t.TempDir(), "tasks.db"), extra...)
}

// newTaskClusterOn is newTaskCluster with the task store dsn.
func newTaskClusterOn(t *testing.T, ctx context.Context, dsn string, extra ...string) *taskCluster {
	t.Helper()
	srv := testenv.Gearmand(t)
	tc := &taskCluster{srv: srv, dsn: dsn}
	lines := append([]string{"[tasks]", "store = " + tc.dsn, "poll_interval = 50ms", "min_backoff = 300ms", "max_backoff = 5s"}, extra...)
	tc.config = writeConfig(t, []string{srv.Addr()}, lines...)
	db, err := store.Open(ctx, tc.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	gc := newClient(t, ctx, srv.Addr())
	if tc.client, err = tasks.NewClient(ctx, db, gc, config.Tasks{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.client.Close() })
	return tc
}

// workers starts n worker processes with args and waits until they serve
// the task function of fn.
func (tc *taskCluster) workers(t *testing.T, ctx context.Context, n int, fn string, args ...string) []*proc {
	t.Helper()
	var ps []*proc
	for range n {
		ps = append(ps, startProc(t, append([]string{"-c", tc.config, "worker"}, args...)...))
	}
	testenv.Eventually(t, ctx, fmt.Sprintf("%d workers serving %s", n, fn), func() (bool, error) {
		st, err := gearmantest.FunctionStatus(ctx, tc.srv.Addr(), tasks.GearmanName(fn))
		return err == nil && st.Workers >= n, nil
	})
	return ps
}

// waitState waits until every id is in state.
func (tc *taskCluster) waitState(t *testing.T, ctx context.Context, state tasks.State, ids ...tasks.ID) []*tasks.Info {
	t.Helper()
	out := make([]*tasks.Info, len(ids))
	testenv.Eventually(t, ctx, fmt.Sprintf("%d tasks %s", len(ids), state), func() (bool, error) {
		for i, id := range ids {
			in, err := tc.client.Get(ctx, id)
			if err != nil {
				return false, err
			}
			if in.State.Finished() && in.State != state {
				t.Fatalf("task %s ended %s after %d attempts (%s), want %s", id, in.State, in.Attempt, in.Error, state)
			}
			if in.State != state {
				return false, nil
			}
			out[i] = in
		}
		return true, nil
	})
	return out
}

// TestRateLimitAcrossWorkerProcesses is issue 14's test: a rate of 50/s
// across 3 worker processes gives 450-550 runs in 10 s and never more
// than the burst starts in any one second; max_running = 2 across 3
// processes never has more than 2 running, and a task waiting for its
// grant stays queued, not running. The burst is 60, not the default 50:
// tasks/ratelimit keeps the starts (not only the grants) within the burst
// when burst >= 1.05*rate + 1, and its bucket then holds 7.5 tokens, so
// grants taken late (a worker process that a loaded machine woke late)
// are not lost to a full bucket.
func TestRateLimitAcrossWorkerProcesses(t *testing.T) {
	t.Run("rate", func(t *testing.T) {
		t.Parallel()
		ctx := testenv.Context(t)
		// PostgreSQL, the store that processes on several hosts share.
		tc := newTaskClusterOn(t, ctx, testenv.Postgres(t), "[queue fifty]", "rate = 50", "burst = 60")
		tc.workers(t, ctx, 3, recordRun.Name(), "-n", "4")
		file := filepath.Join(t.TempDir(), "runs")
		// All due at once, so that the count measures the limit, not how
		// fast this loop enqueues: the dispatcher sends them in full jobs.
		due := time.Now().Add(3 * time.Second)
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		for range 10 { // concurrent enqueues share commits
			wg.Go(func() {
				for range 70 {
					_, err := tasks.Enqueue(ctx, tc.client, recordRun, runRecord{File: file}, tasks.Queue("fifty"), tasks.Countdown(max(0, time.Until(due))))
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		t.Logf("enqueued with %v to spare", time.Until(due))
		var starts []time.Time
		testenv.Eventually(t, ctx, "10s of runs", func() (bool, error) {
			starts, _ = recorded(t, file)
			return len(starts) > 0 && time.Since(starts[0]) > 10500*time.Millisecond, nil
		})
		in10 := 0
		for _, s := range starts {
			if s.Sub(starts[0]) < 10*time.Second {
				in10++
			}
		}
		worst := maxInWindow(starts, time.Second)
		perSecond := make([]int, 11)
		for _, s := range starts {
			if i := int(s.Sub(starts[0]) / time.Second); i < len(perSecond) {
				perSecond[i]++
			}
		}
		t.Logf("runs per second: %v", perSecond)
		t.Logf("%d runs in the first 10s, at most %d in any second", in10, worst)
		least := 450
		if raceDetector {
			// Under the race detector on a shared 2-core machine the
			// worker processes are CPU-bound below 50 tasks/s; the
			// limits (at most 550, at most the burst a second) hold.
			least = 300
		}
		if in10 < least || in10 > 550 {
			t.Errorf("%d runs in 10s; want %d-550 (rate 50/s)", in10, least)
		}
		if worst > 60 {
			t.Errorf("%d runs started within one second; want at most the burst, 60", worst)
		}
	})
	t.Run("max_running", func(t *testing.T) {
		t.Parallel()
		ctx := testenv.Context(t)
		tc := newTaskCluster(t, ctx, "[queue two]", "max_running = 2")
		tc.workers(t, ctx, 3, recordRun.Name(), "-n", "2")
		file := filepath.Join(t.TempDir(), "runs")
		var ids []tasks.ID
		for range 12 {
			id, err := tasks.Enqueue(ctx, tc.client, recordRun, runRecord{File: file, SleepMS: 300}, tasks.Queue("two"))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		// While they run, the store never shows more than 2 running.
		most := 0
		testenv.Eventually(t, ctx, "12 tasks succeeded", func() (bool, error) {
			counts, err := tc.client.Counts(ctx)
			most = max(most, counts[tasks.Running])
			return counts[tasks.Succeeded] == len(ids), err
		})
		starts, ends := recorded(t, file)
		if got := overlap(starts, ends); got > 2 || most > 2 {
			t.Errorf("%d ran at once (the store showed %d running); want at most 2", got, most)
		}
		t.Logf("at most %d ran at once, %d shown running", overlap(starts, ends), most)
	})
}

// overlap is the most intervals (starts[i], some end) open at once.
func overlap(starts, ends []time.Time) int {
	type ev struct {
		at time.Time
		d  int
	}
	var evs []ev
	for _, s := range starts {
		evs = append(evs, ev{s, 1})
	}
	for _, e := range ends {
		evs = append(evs, ev{e, -1})
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].at.Equal(evs[j].at) {
			return evs[i].d < evs[j].d
		}
		return evs[i].at.Before(evs[j].at)
	})
	n, most := 0, 0
	for _, e := range evs {
		n += e.d
		most = max(most, n)
	}
	return most
}

// TestPeriodicTaskRunsOncePerPeriod: two worker processes with one
// "@every 1s" [periodic NAME] entry run its task once per period, each
// with the period's idempotency key.
func TestPeriodicTaskRunsOncePerPeriod(t *testing.T) {
	t.Parallel()
	ctx := testenv.Context(t)
	file := filepath.Join(t.TempDir(), "runs")
	tc := newTaskCluster(t, ctx, "[periodic tick]", "schedule = @every 1s", "function = "+recordRun.Name(),
		fmt.Sprintf(`item = {"File": %q}`, file))
	tc.workers(t, ctx, 2, recordRun.Name(), "-n", "2")
	var list []tasks.Info
	testenv.Eventually(t, ctx, "4 periods run", func() (bool, error) {
		var err error
		list, err = tc.client.List(ctx, tasks.Filter{Func: recordRun.Name(), State: tasks.Succeeded, Limit: 1000})
		return len(list) >= 4, err
	})
	time.Sleep(300 * time.Millisecond) // a task of the next period may be running
	list, err := tc.client.List(ctx, tasks.Filter{Func: recordRun.Name(), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	periodKey := regexp.MustCompile(`^periodic:tick:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	for _, in := range list {
		if !periodKey.MatchString(in.Key) || keys[in.Key] {
			t.Errorf("task %s has key %q; want one task per period keyed periodic.Key(tick, period)", in.ID, in.Key)
		}
		keys[in.Key] = true
		if p, err := time.Parse(time.RFC3339, strings.TrimPrefix(in.Key, "periodic:tick:")); err == nil && in.Key != periodic.Key("tick", p) {
			t.Errorf("key %q is not periodic.Key", in.Key)
		}
	}
	starts, _ := recorded(t, file)
	succeeded := 0
	for _, in := range list {
		if in.State == tasks.Succeeded {
			succeeded++
		}
	}
	if len(starts) < succeeded || len(starts) > len(list) {
		t.Errorf("%d runs for %d tasks (%d succeeded); want one run per period", len(starts), len(list), succeeded)
	}
	t.Logf("%d periods, %d runs", len(list), len(starts))
}

// TestWebhookTasks: webhook tasks run by worker processes carry the real
// task id, queue and attempt; a receiver that fails twice gets 3 attempts
// with growing gaps and the task succeeds; 410 Gone fails the task after
// one attempt; a rate limit on a webhook queue holds across 2 workers
// (rate 10, burst 12: see TestRateLimitAcrossWorkerProcesses).
func TestWebhookTasks(t *testing.T) {
	ctx := testenv.Context(t)
	tc := newTaskCluster(t, ctx)
	tc.workers(t, ctx, 2, webhook.Name, "-n", "2")
	retry := tasks.Retry(tasks.RetryConfig{MaxAttempts: 5, MinBackoff: 300 * time.Millisecond, MaxBackoff: 5 * time.Second})

	t.Run("retried", func(t *testing.T) {
		t.Parallel()
		rcv := newReceiver(t)
		id, err := tasks.Enqueue(ctx, tc.client, webhook.Deliver, webhook.Request{URL: rcv.url("/flaky", 500, 500)}, tasks.Queue("flaky"), retry)
		if err != nil {
			t.Fatal(err)
		}
		in := tc.waitState(t, ctx, tasks.Succeeded, id)[0]
		calls := rcv.to("/flaky")
		if len(calls) != 3 || in.Attempt != 3 {
			t.Fatalf("%d calls, %d attempts; want 3", len(calls), in.Attempt)
		}
		for i, d := range calls {
			h := d.header
			if h.Get(webhook.HeaderTaskID) != string(id) || h.Get(webhook.HeaderQueue) != "flaky" || h.Get(webhook.HeaderAttempt) != strconv.Itoa(i+1) {
				t.Errorf("call %d: task id %q, queue %q, attempt %q; want %s, flaky, %d", i+1,
					h.Get(webhook.HeaderTaskID), h.Get(webhook.HeaderQueue), h.Get(webhook.HeaderAttempt), id, i+1)
			}
		}
		gap1, gap2 := calls[1].at.Sub(calls[0].at), calls[2].at.Sub(calls[1].at)
		t.Logf("gaps %v, %v", gap1, gap2)
		if gap1 < 300*time.Millisecond || gap2 <= gap1 {
			t.Errorf("gaps %v then %v; want at least the min backoff, growing", gap1, gap2)
		}
	})
	t.Run("gone", func(t *testing.T) {
		t.Parallel()
		rcv := newReceiver(t)
		id, err := tasks.Enqueue(ctx, tc.client, webhook.Deliver, webhook.Request{URL: rcv.url("/gone", http.StatusGone)}, retry)
		if err != nil {
			t.Fatal(err)
		}
		in := tc.waitState(t, ctx, tasks.Failed, id)[0]
		time.Sleep(time.Second) // a retry would come after 300ms
		calls := rcv.to("/gone")
		if len(calls) != 1 || in.Attempt != 1 || !strings.Contains(in.Error, "410") {
			t.Fatalf("%d calls, %d attempts, error %q; want one attempt failed with 410", len(calls), in.Attempt, in.Error)
		}
	})
	t.Run("rate", func(t *testing.T) {
		t.Parallel()
		// A cluster of its own: tasks waiting for their queue's grant hold
		// the worker slots their jobs came in (see tasks' doc), which would
		// delay the other subtests' retries.
		tc := newTaskCluster(t, ctx, "[queue hooks]", "rate = 10", "burst = 12")
		tc.workers(t, ctx, 2, webhook.Name, "-n", "2")
		rcv := newReceiver(t)
		var ids []tasks.ID
		for range 40 {
			id, err := tasks.Enqueue(ctx, tc.client, webhook.Deliver, webhook.Request{URL: rcv.url("/hooks")}, tasks.Queue("hooks"))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		tc.waitState(t, ctx, tasks.Succeeded, ids...)
		var times []time.Time
		for _, d := range rcv.to("/hooks") {
			times = append(times, d.at)
		}
		sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
		worst := maxInWindow(times, time.Second)
		took := times[len(times)-1].Sub(times[0])
		t.Logf("40 calls in %v, at most %d in any second", took, worst)
		if worst > 12 || took < 3*time.Second {
			t.Errorf("%d calls within one second, 40 in %v; want at most the burst, 12, a second (rate 10)", worst, took)
		}
	})
}

// TestTaskMetricsAndDashboard: after real tasks ran on a worker process,
// its -metrics endpoint counts them per queue (succeeded, retried,
// failed, rate-limit grants, webhook latency), and the dashboard's
// /api/state counts them by state.
func TestTaskMetricsAndDashboard(t *testing.T) {
	t.Parallel()
	ctx := testenv.Context(t)
	tc := newTaskCluster(t, ctx, "[queue m]", "rate = 100")
	addr, url := metricsURL(t)
	tc.workers(t, ctx, 1, recordRun.Name(), "-n", "2", "-metrics", addr)
	file := filepath.Join(t.TempDir(), "runs")
	var ids []tasks.ID
	for range 5 {
		id, err := tasks.Enqueue(ctx, tc.client, recordRun, runRecord{File: file}, tasks.Queue("m"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	retry := tasks.Retry(tasks.RetryConfig{MaxAttempts: 3, MinBackoff: 200 * time.Millisecond})
	rcv := newReceiver(t)
	okID, err := tasks.Enqueue(ctx, tc.client, webhook.Deliver, webhook.Request{URL: rcv.url("/flaky", 500)}, tasks.Queue("w"), retry)
	if err != nil {
		t.Fatal(err)
	}
	goneID, err := tasks.Enqueue(ctx, tc.client, webhook.Deliver, webhook.Request{URL: rcv.url("/gone", http.StatusGone, http.StatusGone, http.StatusGone)}, tasks.Queue("w"), retry)
	if err != nil {
		t.Fatal(err)
	}
	tc.waitState(t, ctx, tasks.Succeeded, append(ids, okID)...)
	tc.waitState(t, ctx, tasks.Failed, goneID)

	body := scrape(t, ctx, url)
	for _, want := range []string{
		`glimpse_tasks_succeeded_total{queue="m"} 5`,
		`glimpse_tasks_succeeded_total{queue="w"} 1`,
		`glimpse_tasks_retried_total{queue="w"} 1`,
		`glimpse_tasks_failed_total{queue="w"} 1`,
		`glimpse_tasks_ratelimit_acquired_total{queue="m"} 5`,
		`glimpse_webhook_latency_seconds_count 3`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", grepLines(body, "glimpse_tasks_", "glimpse_webhook_"))
	}

	_, dash := startDashboard(t, ctx, tc.config)
	state := scrape(t, ctx, dash+"api/state")
	for _, want := range []string{`"succeeded":6`, `"failed":1`, `"running":0`} {
		if !strings.Contains(state, want) {
			t.Errorf("the dashboard's /api/state lacks %s:\n%s", want, state)
		}
	}
}

// scrape GETs url and returns its body.
func scrape(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", url, resp.StatusCode, err)
	}
	return string(data)
}

func grepLines(s string, prefixes ...string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(line, p) {
				out = append(out, line)
			}
		}
	}
	return strings.Join(out, "\n")
}

// TestWebhookTasksOfAJobRunAtOnce: the webhook calls of one task job are
// made at once, not one after another in the job's slot: 8 tasks due
// together (one job) on a worker with one slot reach a receiver that
// answers only once all 8 are in flight (else 503 after 5s, and with
// one attempt each the tasks would fail).
func TestWebhookTasksOfAJobRunAtOnce(t *testing.T) {
	t.Parallel()
	ctx := testenv.Context(t)
	tc := newTaskCluster(t, ctx)
	tc.workers(t, ctx, 1, webhook.Name, "-n", "1")
	const n = 8
	rcv := newReceiver(t)
	hook := rcv.together("/together", n, 5*time.Second)
	due := time.Now().Add(time.Second) // all due at one dispatch: one job
	var ids []tasks.ID
	for range n {
		id, err := tasks.Enqueue(ctx, tc.client, webhook.Deliver, webhook.Request{URL: hook}, tasks.ETA(due),
			tasks.Retry(tasks.RetryConfig{MaxAttempts: 1}))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	tc.waitState(t, ctx, tasks.Succeeded, ids...)
	if got := len(rcv.to("/together")); got != n {
		t.Errorf("%d calls, want %d", got, n)
	}
}
