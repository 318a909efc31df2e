package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gateway"
	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/tasks"
)

// storeGateway serves a gateway whose task routes write to a real SQLite
// task store (no job servers: the tasks here are due in an hour), and
// returns its URL and the store's path.
func storeGateway(t *testing.T) (base, path string) {
	t.Helper()
	ctx := testenv.Context(t)
	path = filepath.Join(t.TempDir(), "tasks.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c, err := tasks.NewClient(ctx, db, nil, config.Tasks{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return serve(t, gateway.Options{Tasks: gateway.TaskService(c, nil)}), path
}

// enqueueResult is one POST /queue as a client saw it.
type enqueueResult struct {
	status int
	id     string
	body   string
}

// postQueues sends n Miyamoto form enqueues from clients keep-alive
// clients at once; form(i) is the i-th body, path(i) its path after the
// base URL.
func postQueues(t *testing.T, base string, clients, n int, path func(int) string, form func(int) url.Values, headers func(int) http.Header) []enqueueResult {
	t.Helper()
	ctx := testenv.Context(t)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer hc.CloseIdleConnections()
	out := make([]enqueueResult, n)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := c; i < n; i += clients {
				req, err := http.NewRequestWithContext(ctx, "POST", base+path(i), strings.NewReader(form(i).Encode()))
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if headers != nil {
					for k, v := range headers(i) {
						req.Header[k] = v
					}
				}
				out[i] = postOne(t, hc, req)
			}
		})
	}
	wg.Wait()
	return out
}

func postOne(t *testing.T, hc *http.Client, req *http.Request) enqueueResult {
	resp, err := hc.Do(req)
	if err != nil {
		t.Error(err)
		return enqueueResult{}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var s struct{ Status, ID string }
	if resp.StatusCode == 200 && (json.Unmarshal(data, &s) != nil || s.Status != "scheduled" || s.ID == "") {
		t.Errorf("200 answer %s: want {\"status\": \"scheduled\", \"id\": ...}", data)
	}
	if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
		t.Errorf("503 answer without Retry-After: %s", data)
	}
	return enqueueResult{resp.StatusCode, s.ID, string(data)}
}

// scheduledInStore is the number of scheduled tasks GET /queues counts.
func scheduledInStore(t *testing.T, base string) int {
	t.Helper()
	a := do(t, "GET", base+"/queues", nil)
	var qs struct{ Queues []gateway.QueueView }
	if err := json.Unmarshal(a.body, &qs); err != nil || a.status != 200 {
		t.Fatalf("GET /queues: %d %s", a.status, a.body)
	}
	n := 0
	for _, q := range qs.Queues {
		n += q.Scheduled
	}
	return n
}

func hookForm(i int) url.Values {
	return url.Values{"task.url": {"http://127.0.0.1:9/hook"}, "task.countdown": {"3600"}, "i": {fmt.Sprint(i)}}
}

func onQueue(int) string { return "/queue" }

// TestConcurrentHTTPEnqueuesStoredOnce: 10 keep-alive clients post 400
// tasks at once (the store commits them in shared transactions): each
// answer is 200 with its own id, and the store holds each task once.
func TestConcurrentHTTPEnqueuesStoredOnce(t *testing.T) {
	base, _ := storeGateway(t)
	const n = 400
	res := postQueues(t, base, 10, n, onQueue, hookForm, nil)
	ids := map[string]bool{}
	for i, r := range res {
		if r.status != 200 {
			t.Fatalf("enqueue %d: %d %s", i, r.status, r.body)
		}
		ids[r.id] = true
	}
	if len(ids) != n {
		t.Fatalf("%d distinct ids for %d enqueues", len(ids), n)
	}
	if got := scheduledInStore(t, base); got != n {
		t.Fatalf("the store holds %d tasks, want %d", got, n)
	}
	for id := range ids {
		if a := do(t, "GET", base+"/tasks/"+id, nil); a.status != 200 || !strings.Contains(string(a.body), `"scheduled"`) {
			t.Fatalf("GET /tasks/%s: %d %s", id, a.status, a.body)
		}
	}
}

// TestConcurrentIdempotentHTTPEnqueues: 10 clients post 200 enqueues at
// once under 5 idempotency keys (header or task.key): every answer is
// 200, each key's answers name one task, and the store holds 5.
func TestConcurrentIdempotentHTTPEnqueues(t *testing.T) {
	base, _ := storeGateway(t)
	const n, keys = 200, 5
	form := func(i int) url.Values {
		f := hookForm(i)
		if i%2 == 0 {
			f.Set("task.key", fmt.Sprint("order-", i%keys))
		}
		return f
	}
	header := func(i int) http.Header {
		if i%2 == 0 {
			return nil
		}
		return http.Header{"Idempotency-Key": {fmt.Sprint("order-", i%keys)}}
	}
	res := postQueues(t, base, 10, n, onQueue, form, header)
	byKey := map[int]string{}
	for i, r := range res {
		if r.status != 200 {
			t.Fatalf("enqueue %d: %d %s", i, r.status, r.body)
		}
		if id, ok := byKey[i%keys]; ok && id != r.id {
			t.Fatalf("key order-%d answered tasks %s and %s", i%keys, id, r.id)
		}
		byKey[i%keys] = r.id
	}
	if got := scheduledInStore(t, base); got != keys {
		t.Fatalf("the store holds %d tasks, want %d (one a key)", got, keys)
	}
}

// TestStoreFailureAnswers503: the store refuses every transaction that
// holds a task of the queue "doomed" (a trigger, added by another
// connection, as an administrator would). Enqueues of that queue answer
// 503 with Retry-After and the store's error (was 500); the others,
// though they may have shared a transaction with one, answer 200, and the
// store holds exactly those.
func TestStoreFailureAnswers503(t *testing.T) {
	base, path := storeGateway(t)
	admin, err := store.Open(testenv.Context(t), path)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE TRIGGER doomed BEFORE INSERT ON glimpse_tasks_tasks WHEN NEW.queue = 'doomed'
		BEGIN SELECT RAISE(ABORT, 'the disk is full (a test trigger)'); END`); err != nil {
		t.Fatal(err)
	}
	const n = 300
	path3 := func(i int) string {
		if i%3 == 0 {
			return "/queue/doomed"
		}
		return "/queue"
	}
	res := postQueues(t, base, 10, n, path3, hookForm, nil)
	ok := 0
	for i, r := range res {
		switch {
		case i%3 != 0:
			if r.status != 200 {
				t.Fatalf("enqueue %d (%s): %d %s; want 200", i, path3(i), r.status, r.body)
			}
			ok++
			if a := do(t, "GET", base+"/tasks/"+r.id, nil); a.status != 200 {
				t.Fatalf("enqueue %d answered 200 with id %s, but GET /tasks/%s answers %d %s", i, r.id, r.id, a.status, a.body)
			}
		case r.status != 503:
			t.Fatalf("enqueue %d (%s): %d %s; want 503", i, path3(i), r.status, r.body)
		case !strings.Contains(r.body, "disk is full"):
			t.Fatalf("enqueue %d: 503 %s: want the store's error", i, r.body)
		}
	}
	if got := scheduledInStore(t, base); got != ok {
		t.Fatalf("the store holds %d tasks, %d were answered 200", got, ok)
	}
}
