package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/gearmantest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/webhook"
)

// gatewayTaskCluster is gearmand with a persistent queue, two worker processes
// serving the webhook function and tasks, and glimpse-cluster http.
func gatewayTaskCluster(t *testing.T, ctx context.Context) (base string) {
	dir := t.TempDir()
	srv := testenv.Gearmand(t, "-q", "libsqlite3", "--libsqlite3-db", filepath.Join(dir, "queue.db"))
	cfg := writeConfig(t, []string{srv.Addr()}, "[tasks]", "store = "+filepath.Join(dir, "tasks.db"),
		"poll_interval = 50ms", "min_backoff = 200ms", "max_backoff = 400ms", "max_attempts = 3",
		"[http]", "listen = 127.0.0.1:0")
	startProc(t, "-c", cfg, "worker", "-n", "2")
	startProc(t, "-c", cfg, "worker", "-n", "2")
	waitWorker(t, ctx, srv.Addr(), "glimpse-task."+webhook.Name)
	_, base = startHTTP(t, ctx, cfg)
	return base
}

// answer is an HTTP answer with its JSON body decoded.
type answer struct {
	status int
	body   string
	json   map[string]any
}

func call(t *testing.T, method, u, ctype, body string, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, body: string(b)}
	json.Unmarshal(b, &a.json)
	return a
}

// enqueued checks a {"status": "scheduled", "id": ...} answer.
func enqueued(t *testing.T, a answer) string {
	t.Helper()
	id, _ := a.json["id"].(string)
	if a.status != 200 || a.json["status"] != "scheduled" || id == "" {
		t.Fatalf("enqueue: %d %s, want 200 {status: scheduled, id}", a.status, a.body)
	}
	return id
}

// TestGatewayTasksEndToEnd: Miyamoto's README flow and the task routes
// through glimpse-cluster http, real worker processes delivering the
// webhooks to a receiver on loopback, gearmand with a persistent queue.
func TestGatewayTasksEndToEnd(t *testing.T) {
	ctx := testenv.Context(t)
	base := gatewayTaskCluster(t, ctx)
	rc := newReceiver(t)
	defer http.DefaultClient.CloseIdleConnections()

	t.Run("miyamoto README flow with curl", func(t *testing.T) { miyamotoFlow(t, ctx, base, rc) })
	t.Run("JSON enqueue", func(t *testing.T) {
		id := enqueued(t, call(t, "POST", base+"queue/jsonq", "application/json",
			`{"url": "`+rc.srv.URL+`/json", "params": {"n": 7, "tags": ["a", "b"]}}`))
		d := rc.await(t, ctx, "/json", 1)[0]
		if d.ctype != "application/json" || d.body != `{"n": 7, "tags": ["a", "b"]}` && d.body != `{"n":7,"tags":["a","b"]}` {
			t.Errorf("JSON task delivered %q %q", d.ctype, d.body)
		}
		if q := d.header.Get(webhook.HeaderQueue); q != "jsonq" {
			t.Errorf("queue header %q, want jsonq", q)
		}
		v := awaitState(t, ctx, base, id, "succeeded")
		if v["attempt"] != 1.0 || !strings.Contains(string(mustJSON(v["result"])), "status") {
			t.Errorf("GET /tasks/%s: %v, want attempt 1 and the webhook's result", id, v)
		}
	})
	t.Run("Idempotency-Key gives one task", func(t *testing.T) {
		form := "task.url=" + url.QueryEscape(rc.srv.URL+"/idem") + "&task.countdown=0.5&x=1"
		id1 := enqueued(t, call(t, "POST", base+"queue", "application/x-www-form-urlencoded", form, "Idempotency-Key", "order-42"))
		id2 := enqueued(t, call(t, "POST", base+"queue", "application/x-www-form-urlencoded", form, "Idempotency-Key", "order-42"))
		if id1 != id2 {
			t.Fatalf("one Idempotency-Key, two ids %s %s", id1, id2)
		}
		awaitState(t, ctx, base, id1, "succeeded")
		time.Sleep(time.Second) // a second task would have been due too
		if n := len(rc.to("/idem")); n != 1 {
			t.Errorf("receiver got %d calls for one Idempotency-Key, want 1", n)
		}
	})
	t.Run("last error of a failing receiver", func(t *testing.T) {
		id := enqueued(t, call(t, "POST", base+"queue", "", "task.url="+url.QueryEscape(rc.url("/fail", 500, 500, 500))))
		v := awaitState(t, ctx, base, id, "failed")
		if v["attempt"] != 3.0 || !strings.Contains(fmt.Sprint(v["last_error"]), "500") || len(v["attempts"].([]any)) != 3 {
			t.Errorf("GET /tasks/%s: %v, want 3 attempts and the 500 as last_error", id, v)
		}
		if n := len(rc.to("/fail")); n != 3 {
			t.Errorf("receiver got %d calls, want 3 (max_attempts)", n)
		}
	})
	t.Run("receiver fails twice then succeeds", func(t *testing.T) { failsTwice(t, ctx, base, rc) })
	t.Run("410 stops", func(t *testing.T) { goneStops(t, ctx, base, rc) })
	t.Run("DELETE cancels a scheduled task", func(t *testing.T) {
		id := enqueued(t, call(t, "POST", base+"queue", "", "task.countdown=1.5&task.url="+url.QueryEscape(rc.srv.URL+"/cancelled")))
		if a := call(t, "DELETE", base+"tasks/"+id, "", ""); a.status != 200 || a.json["status"] != "cancelled" {
			t.Fatalf("DELETE /tasks/%s: %d %s", id, a.status, a.body)
		}
		if a := call(t, "DELETE", base+"tasks/"+id, "", ""); a.status != 409 {
			t.Errorf("second DELETE: %d %s, want 409", a.status, a.body)
		}
		if a := call(t, "GET", base+"tasks/0123456789abcdef0123456789abcdef", "", ""); a.status != 404 {
			t.Errorf("GET of an unknown task: %d %s, want 404", a.status, a.body)
		}
		time.Sleep(3 * time.Second) // its countdown, twice over
		if n := len(rc.to("/cancelled")); n != 0 {
			t.Errorf("the receiver got the cancelled task %d times", n)
		}
		if v := getTask(t, base, id); v["state"] != "cancelled" {
			t.Errorf("state %v, want cancelled", v["state"])
		}
	})
	t.Run("GET /queues counts", func(t *testing.T) {
		for range 3 {
			enqueued(t, call(t, "POST", base+"queue/later", "", "task.countdown=3600&task.url="+url.QueryEscape(rc.srv.URL+"/later")))
		}
		a := call(t, "GET", base+"queues", "", "")
		var qs struct{ Queues []map[string]any }
		json.Unmarshal([]byte(a.body), &qs)
		var later map[string]any
		for _, q := range qs.Queues {
			if q["name"] == "later" {
				later = q
			}
		}
		if a.status != 200 || later == nil || later["scheduled"] != 3.0 || later["queued"] != 0.0 || later["running"] != 0.0 {
			t.Errorf("GET /queues: %d %s, want later with 3 scheduled", a.status, a.body)
		}
	})
	t.Run("metrics", func(t *testing.T) { scrapeGateway(t, base) })
}

// failsTwice: a task posted to a receiver that answers 500 twice, then
// 200, is called 3 times, the gaps growing with the backoff of the
// gateway's [tasks] config (min_backoff 200ms, max_backoff 400ms), and
// GET /tasks/{id} shows it succeeded after 3 attempts, the 500s in its
// attempts.
func failsTwice(t *testing.T, ctx context.Context, base string, rc *receiver) {
	id := enqueued(t, call(t, "POST", base+"queue/flaky", "", "task.url="+url.QueryEscape(rc.url("/flaky", 500, 500))+"&n=1"))
	v := awaitState(t, ctx, base, id, "succeeded")
	ds := rc.to("/flaky")
	if len(ds) != 3 || v["attempt"] != 3.0 || len(v["attempts"].([]any)) != 3 {
		t.Fatalf("%d calls; GET /tasks/%s: %v; want 3 calls and 3 attempts", len(ds), id, v)
	}
	for i, d := range ds {
		if d.header.Get(webhook.HeaderTaskID) != id || d.header.Get(webhook.HeaderAttempt) != strconv.Itoa(i+1) || d.body != "n=1" {
			t.Errorf("call %d: task %q attempt %q body %q; want %s, %d, n=1", i+1,
				d.header.Get(webhook.HeaderTaskID), d.header.Get(webhook.HeaderAttempt), d.body, id, i+1)
		}
	}
	if first := v["attempts"].([]any)[0].(map[string]any); !strings.Contains(fmt.Sprint(first["error"]), "500") {
		t.Errorf("first attempt %v, want the 500 as its error", first)
	}
	gap1, gap2 := ds[1].at.Sub(ds[0].at), ds[2].at.Sub(ds[1].at)
	t.Logf("gaps %v, %v", gap1, gap2)
	if gap1 < 200*time.Millisecond || gap2 <= gap1 {
		t.Errorf("gaps %v then %v; want at least min_backoff (200ms), growing", gap1, gap2)
	}
}

// goneStops: a receiver that answers 410 Gone is called once; the task
// fails at once, though attempts are left (max_attempts 3), with the
// 410 as its last error.
func goneStops(t *testing.T, ctx context.Context, base string, rc *receiver) {
	id := enqueued(t, call(t, "POST", base+"queue", "", "task.url="+url.QueryEscape(rc.url("/gone", 410, 410, 410))))
	v := awaitState(t, ctx, base, id, "failed")
	time.Sleep(time.Second) // a retry would come after 200ms
	if n := len(rc.to("/gone")); n != 1 || v["attempt"] != 1.0 || !strings.Contains(fmt.Sprint(v["last_error"]), "410") {
		t.Errorf("%d calls; GET /tasks/%s: %v; want one call, one attempt failed with 410", n, id, v)
	}
}

// miyamotoFlow is Miyamoto's README: a listener on a local port, a task
// posted with curl and a countdown of 5 s, the POST arriving 5 s later
// with the params form-encoded and the task's id in a header.
func miyamotoFlow(t *testing.T, ctx context.Context, base string, rc *receiver) {
	start := time.Now()
	out, err := exec.CommandContext(ctx, "curl", "-sS", "-d", "task.url="+rc.srv.URL+"/miyamoto",
		"-d", "task.countdown=5", "-d", "foo=bar", "-d", "n=1", base+"queue").Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	var a struct{ Status, ID string }
	if err := json.Unmarshal(out, &a); err != nil || a.Status != "scheduled" || a.ID == "" {
		t.Fatalf("curl got %q", out)
	}
	d := rc.await(t, ctx, "/miyamoto", 1)[0]
	if late := d.at.Sub(start); late < 4900*time.Millisecond || late > 15*time.Second {
		t.Errorf("the POST came %v after the enqueue, want about 5s", late)
	}
	form, _ := url.ParseQuery(d.body)
	if d.ctype != "application/x-www-form-urlencoded" || form.Get("foo") != "bar" || form.Get("n") != "1" || len(form) != 2 {
		t.Errorf("delivered %q %q, want the params form-encoded", d.ctype, d.body)
	}
	if got := d.header.Get(webhook.HeaderMiyamotoTaskID); got != a.ID {
		t.Errorf("%s header %q, want the task id %s (the task runner fills it: webhook.Config.TaskInfo, wired on branch taskwire)", webhook.HeaderMiyamotoTaskID, got, a.ID)
	}
}

func getTask(t *testing.T, base, id string) map[string]any {
	t.Helper()
	a := call(t, "GET", base+"tasks/"+id, "", "")
	if a.status != 200 || a.json["id"] != id {
		t.Fatalf("GET /tasks/%s: %d %s", id, a.status, a.body)
	}
	return a.json
}

func awaitState(t *testing.T, ctx context.Context, base, id, state string) map[string]any {
	t.Helper()
	var v map[string]any
	testenv.Eventually(t, ctx, "task "+id+" "+state, func() (bool, error) {
		v = getTask(t, base, id)
		return v["state"] == state, fmt.Errorf("%v", v)
	})
	return v
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// scrapeGateway checks the gateway's /metrics after the requests above:
// requests by route and code, tasks enqueued, the job servers' workers.
func scrapeGateway(t *testing.T, base string) {
	before := call(t, "GET", base+"metrics", "", "")
	call(t, "GET", base+"tasks/0123456789abcdef0123456789abcdef", "", "")
	call(t, "GET", base+"tasks/0123456789abcdef0123456789abcdef", "", "")
	a := call(t, "GET", base+"metrics", "", "")
	if a.status != 200 {
		t.Fatalf("GET /metrics: %d %s", a.status, a.body)
	}
	get := func(text, name string) float64 {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(text)
		if m == nil {
			return -1
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	notFound := `glimpse_http_requests_total{code="404",route="GET /tasks/{id}"}`
	if b, n := get(before.body, notFound), get(a.body, notFound); n-b != 2 || b < 1 {
		t.Errorf("%s went %v -> %v, want +2 after two 404s", notFound, b, n)
	}
	// 1 curl + 1 JSON + 2 idempotent + 1 failing + 1 flaky + 1 gone +
	// 1 cancelled + 3 later.
	if n := get(a.body, "glimpse_http_tasks_enqueued_total"); n != 11 {
		t.Errorf("glimpse_http_tasks_enqueued_total %v, want 11", n)
	}
	if n := get(a.body, `glimpse_http_requests_total{code="200",route="POST /queue/{name}"}`); n != 5 {
		t.Errorf("POST /queue/{name} 200s: %v, want 5", n)
	}
	if !regexp.MustCompile(`(?m)^glimpse_http_request_duration_seconds_count\{code="200",route="POST /queue"\} 6$`).MatchString(a.body) {
		t.Errorf("no duration histogram of the 6 POST /queue 200s:\n%s", gatewayGrepLines(a.body, "duration_seconds_count"))
	}
	if !regexp.MustCompile(`(?m)^glimpse_jobserver_workers\{function="glimpse-task.glimpse.webhook",server="[^"]+"\} 2$`).MatchString(a.body) {
		t.Errorf("no glimpse_jobserver_workers of the webhook function with 2 workers:\n%s", gatewayGrepLines(a.body, "glimpse_jobserver_workers"))
	}
}

func gatewayGrepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestGatewayTasksDeliverEveryOne: webhook tasks due now, posted over
// HTTP by 10 clients at once, reach the receiver once each and are
// recorded succeeded after one attempt. Then, with a worker process
// SIGKILLed while it delivers, every task is still delivered and
// succeeds; a task called twice is one whose first attempt the killed
// worker held (its lease ran out: at least once, not more).
func TestGatewayTasksDeliverEveryOne(t *testing.T) {
	ctx := testenv.Context(t)
	dir := t.TempDir()
	srv := testenv.Gearmand(t)
	cfg := writeConfig(t, []string{srv.Addr()}, "[tasks]", "store = "+filepath.Join(dir, "tasks.db"),
		"poll_interval = 50ms", "lease = 2s", "redispatch_after = 2s", "[http]", "listen = 127.0.0.1:0")
	workers := []*proc{startProc(t, "-c", cfg, "worker", "-n", "2"), startProc(t, "-c", cfg, "worker", "-n", "2")}
	testenv.Eventually(t, ctx, "2 workers", func() (bool, error) {
		st, err := gearmantest.FunctionStatus(ctx, srv.Addr(), "glimpse-task."+webhook.Name)
		return err == nil && st.Workers >= 2, err
	})
	_, base := startHTTP(t, ctx, cfg)
	rc := newReceiver(t)
	defer http.DefaultClient.CloseIdleConnections()

	ids := postTasks(t, base, rc.url("/all"), 300)
	if ids == nil {
		t.FailNow()
	}
	calls := callsByTask(rc.await(t, ctx, "/all", len(ids)))
	for _, id := range ids {
		if v := awaitState(t, ctx, base, id, "succeeded"); calls[id] != 1 || v["attempt"] != 1.0 {
			t.Errorf("task %s: %d calls, attempt %v; want 1 and 1", id, calls[id], v["attempt"])
		}
	}

	hook := rc.url("/kill")
	done := make(chan []string, 1)
	go func() { done <- postTasks(t, base, hook, 600) }()
	rc.await(t, ctx, "/kill", 100)
	workers[0].cmd.Process.Kill()
	if ids = <-done; ids == nil {
		t.FailNow()
	}
	for _, id := range ids {
		awaitState(t, ctx, base, id, "succeeded")
	}
	calls = callsByTask(rc.to("/kill"))
	twice := 0
	for _, id := range ids {
		switch v := getTask(t, base, id); {
		case calls[id] == 0 || calls[id] > 2:
			t.Errorf("task %s called %d times, want 1 (2 if the killed worker held it)", id, calls[id])
		case calls[id] == 2:
			twice++
			first := v["attempts"].([]any)[0].(map[string]any)
			if v["attempt"] != 2.0 || !strings.Contains(fmt.Sprint(first["error"]), "lease") {
				t.Errorf("task %s called twice: %v; want its first attempt's lease run out", id, v)
			}
		}
	}
	t.Logf("%d tasks, %d calls, %d tasks called twice after the kill", len(ids), len(rc.to("/kill")), twice)
}

// postTasks posts n tasks due now calling hook, from 10 clients at once,
// and returns their ids (nil if a POST failed). Any goroutine may call it.
func postTasks(t *testing.T, base, hook string, n int) []string {
	ids := make([]string, n)
	var wg sync.WaitGroup
	for c := range 10 {
		wg.Go(func() {
			for i := c; i < n; i += 10 {
				form := url.Values{"task.url": {hook}, "i": {strconv.Itoa(i)}}
				resp, err := http.PostForm(base+"queue", form)
				if err != nil {
					t.Errorf("POST /queue: %v", err)
					return
				}
				var a struct{ Status, ID string }
				err = json.NewDecoder(resp.Body).Decode(&a)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || a.Status != "scheduled" || a.ID == "" {
					t.Errorf("POST /queue: %d %+v %v; want 200 {status: scheduled, id}", resp.StatusCode, a, err)
					return
				}
				ids[i] = a.ID
			}
		})
	}
	wg.Wait()
	if slices.Contains(ids, "") {
		return nil // t.Errorf said why
	}
	return ids
}

// callsByTask counts the calls of each task id.
func callsByTask(ds []delivery) map[string]int {
	out := map[string]int{}
	for _, d := range ds {
		out[d.header.Get(webhook.HeaderTaskID)]++
	}
	return out
}
