package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/gateway"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/webhook"
)

// memTasks is an in-memory gateway.Tasks, a test double of the gateway's
// own interface (the real one is package tasks, wired by an adapter):
// it keeps what was enqueued and, with deliver set, runs webhook tasks
// with webhook.Deliver once due, as a worker would.
type memTasks struct {
	mu      sync.Mutex
	reqs    map[string]gateway.EnqueueRequest
	keys    map[string]string
	state   map[string]string
	deliver bool
	wg      sync.WaitGroup
}

func newMemTasks(t *testing.T, deliver bool) *memTasks {
	m := &memTasks{reqs: map[string]gateway.EnqueueRequest{}, keys: map[string]string{}, state: map[string]string{}, deliver: deliver}
	t.Cleanup(m.wg.Wait)
	return m
}

func (m *memTasks) Enqueue(ctx context.Context, req gateway.EnqueueRequest) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id, ok := m.keys[req.Key]; ok && req.Key != "" {
		return id, nil
	}
	id := fmt.Sprintf("%032x", len(m.reqs)+1)
	m.reqs[id], m.state[id] = req, "scheduled"
	if req.Key != "" {
		m.keys[req.Key] = id
	}
	if wr, ok := req.Item.(webhook.Request); ok && m.deliver {
		wr.TaskID = id
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			time.Sleep(req.Countdown)
			webhook.Deliver.Call(context.Background(), wr)
		}()
	}
	return id, nil
}

func (m *memTasks) Get(ctx context.Context, id string) (gateway.TaskView, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	req, ok := m.reqs[id]
	if !ok {
		return gateway.TaskView{}, fmt.Errorf("task %s: %w", id, gateway.ErrNotFound)
	}
	return gateway.TaskView{ID: id, Func: req.Func, Queue: req.Queue, Key: req.Key, State: m.state[id]}, nil
}

func (m *memTasks) Cancel(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.state[id] {
	case "":
		return fmt.Errorf("task %s: %w", id, gateway.ErrNotFound)
	case "cancelled":
		return fmt.Errorf("task %s is cancelled: %w", id, gateway.ErrConflict)
	}
	m.state[id] = "cancelled"
	return nil
}

func (m *memTasks) Queues(ctx context.Context) ([]gateway.QueueView, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	counts := map[string]int{}
	for id, r := range m.reqs {
		if m.state[id] == "scheduled" {
			counts[r.Queue]++
		}
	}
	var qs []gateway.QueueView
	for q, n := range counts {
		qs = append(qs, gateway.QueueView{Name: q, Scheduled: n})
	}
	return qs, nil
}

func (m *memTasks) only(t *testing.T, id string) gateway.EnqueueRequest {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.reqs[id]
	if !ok {
		t.Fatalf("no task %s enqueued", id)
	}
	return r
}

// scheduledID reads {"status": "scheduled", "id": ...}.
func scheduledID(t *testing.T, a answer) string {
	t.Helper()
	var s struct{ Status, ID string }
	if err := json.Unmarshal(a.body, &s); err != nil || a.status != 200 || s.Status != "scheduled" || s.ID == "" {
		t.Fatalf("enqueue answered %d %s", a.status, a.body)
	}
	return s.ID
}

// TestMiyamotoReadmeFlow is Miyamoto README's flow with curl: a bare
// listener (nc -l) on a local port, `curl -d
// "task.url=http://localhost:PORT/worker&task.countdown=1&foo=bar"
// .../queue`, the answer {"status": "scheduled", "id": ...}, and the POST
// arriving after the countdown with foo=bar form-encoded and the task id
// in a header (delivered here by the in-memory task service with the real
// webhook.Deliver; the countdown is 1 s instead of 5 to keep the test
// short).
func TestMiyamotoReadmeFlow(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is not installed (Debian package curl)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type call struct {
		req  *http.Request
		body string
		at   time.Time
	}
	got := make(chan call, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		req, err := http.ReadRequest(bufio.NewReader(conn))
		if err != nil {
			return
		}
		b, _ := io.ReadAll(req.Body)
		got <- call{req, string(b), time.Now()}
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	}()
	base := serve(t, gateway.Options{Tasks: newMemTasks(t, true)})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	start := time.Now()
	out, err := exec.CommandContext(testenv.Context(t), curl, "-sS", "-d",
		"task.url=http://localhost:"+port+"/worker&task.countdown=1&foo=bar", base+"/queue").Output()
	if err != nil {
		t.Fatalf("curl: %v %s", err, out)
	}
	id := scheduledID(t, answer{status: 200, body: out})
	select {
	case c := <-got:
		if c.req.Method != "POST" || c.req.URL.Path != "/worker" || c.body != "foo=bar" || c.req.Header.Get("X-Task-Id") != id {
			t.Errorf("listener saw %s %s %q headers %v", c.req.Method, c.req.URL.Path, c.body, c.req.Header)
		}
		if d := c.at.Sub(start); d < time.Second {
			t.Errorf("the call came %v after the enqueue, before its countdown of 1s", d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no call reached the listener")
	}
}

// TestMiyamotoEnqueue: the form and JSON enqueues become webhook tasks
// with their params, queue, schedule and key (Idempotency-Key or
// task.key); the same key gives the same id.
func TestMiyamotoEnqueue(t *testing.T) {
	m := newMemTasks(t, false)
	base := serve(t, gateway.Options{Tasks: m, Now: func() time.Time { return time.Unix(1_800_000_000, 0) }})
	form := "application/x-www-form-urlencoded"
	id := scheduledID(t, do(t, "POST", base+"/queue/mail", []byte("task.url=http://h/w&task.method=get&task.eta=1800000060&a=1&a=2&b=x"), "Content-Type", form))
	r := m.only(t, id)
	wr := r.Item.(webhook.Request)
	if r.Func != webhook.Name || r.Queue != "mail" || !r.ETA.Equal(time.Unix(1_800_000_060, 0)) || wr.URL != "http://h/w" ||
		wr.Method != "get" || wr.Queue != "mail" || strings.Join(wr.Params["a"], ",") != "1,2" || wr.Params["b"][0] != "x" || len(wr.Params) != 2 {
		t.Errorf("form enqueue: %+v item %+v", r, wr)
	}
	id = scheduledID(t, do(t, "POST", base+"/queue", []byte(`{"url":"http://h/j","countdown":2.5,"params":{"n":1,"s":"t"}}`), "Idempotency-Key", "k1"))
	r = m.only(t, id)
	wr = r.Item.(webhook.Request)
	if r.Queue != "" || r.Key != "k1" || !r.HasCountdown || r.Countdown != 2500*time.Millisecond || wr.Encoding != webhook.JSON || string(wr.JSON) != `{"n":1,"s":"t"}` {
		t.Errorf("JSON enqueue: %+v item %+v", r, wr)
	}
	again := scheduledID(t, do(t, "POST", base+"/queue", []byte("task.url=http://h/other&task.key=k1"), "Content-Type", form))
	if again != id {
		t.Errorf("same key k1: id %s, then %s", id, again)
	}
}

// TestEnqueueErrors: a task that cannot be sent answers 400 naming the
// field; an unknown body type 415.
func TestEnqueueErrors(t *testing.T) {
	base := serve(t, gateway.Options{Tasks: newMemTasks(t, false)})
	form := "application/x-www-form-urlencoded"
	cases := []struct {
		path, ctype, body string
		status            int
		says              string
	}{
		{"/queue", form, "foo=bar", 400, `field "task.url": missing`},
		{"/queue", form, "task.url=ftp://h/", 400, "URL"},
		{"/queue", form, "task.url=http://h/&task.countdown=-1", 400, `field "task.countdown"`},
		{"/queue", form, "task.url=http://h/&task.countdwon=1", 400, `field "task.countdwon": unknown task field`},
		{"/queue", form, "task.url=http://h/&task.method=PUT", 400, "want POST or GET"},
		{"/queue", form, "task.url=http://h/&task.countdown=1&task.eta=1", 400, "keep one"},
		{"/queue/bad name", form, "task.url=http://h/", 400, "queue name"},
		{"/queue", "application/json", `{"url": 5}`, 400, `field "url": want string, got number`},
		{"/queue", "application/json", `{"url": "http://h/", "params": [1]}`, 400, `field "params": want an object`},
		{"/queue", "application/json", `{"url": "http://h/", "colour": 1}`, 400, `field "colour": unknown field`},
		{"/queue", "text/plain", "task.url=http://h/", 415, "Content-Type"},
		{"/v1/functions/examples.square/tasks", "application/json", `{"item": "x"}`, 400, `field "item": want integer (int64), got string`},
		{"/v1/functions/examples.square/tasks", "application/json", `{}`, 400, `field "item": missing`},
	}
	for _, tc := range cases {
		a := do(t, "POST", base+tc.path, []byte(tc.body), "Content-Type", tc.ctype)
		if a.status != tc.status || !strings.Contains(a.errorText(t), tc.says) {
			t.Errorf("POST %s %s: %d %s, want %d saying %q", tc.path, tc.body, a.status, a.body, tc.status, tc.says)
		}
	}
	a := do(t, "POST", base+"/queue", []byte(`{"url":"http://h/","key":"a"}`), "Idempotency-Key", "b")
	if a.status != 400 || !strings.Contains(a.errorText(t), "Idempotency-Key") {
		t.Errorf("two keys: %d %s", a.status, a.body)
	}
}

// TestTaskRoutes: GET and DELETE /tasks/{id}, GET /queues, a function's
// task; 404 and 409 from the service's errors.
func TestTaskRoutes(t *testing.T) {
	m := newMemTasks(t, false)
	base := serve(t, gateway.Options{Tasks: m, Pool: startWorkers(t, 1)})
	id := scheduledID(t, do(t, "POST", base+"/v1/functions/examples.square/tasks", []byte(`{"item": 9, "queue": "q", "countdown": 60}`)))
	if r := m.only(t, id); r.Func != funcs.Square.Name() || r.Item.(int64) != 9 || r.Queue != "q" || r.Countdown != time.Minute {
		t.Errorf("function task: %+v", r)
	}
	var v gateway.TaskView
	a := do(t, "GET", base+"/tasks/"+id, nil)
	if err := json.Unmarshal(a.body, &v); err != nil || a.status != 200 || v.ID != id || v.State != "scheduled" || v.Queue != "q" {
		t.Errorf("GET task: %d %s", a.status, a.body)
	}
	a = do(t, "GET", base+"/queues", nil)
	if a.status != 200 || !strings.Contains(string(a.body), `{"name":"q","scheduled":1,`) {
		t.Errorf("GET /queues: %d %s", a.status, a.body)
	}
	if a = do(t, "DELETE", base+"/tasks/"+id, nil); a.status != 200 {
		t.Errorf("DELETE: %d %s", a.status, a.body)
	}
	if a = do(t, "DELETE", base+"/tasks/"+id, nil); a.status != 409 {
		t.Errorf("DELETE twice: %d %s, want 409", a.status, a.body)
	}
	if a = do(t, "GET", base+"/tasks/nope", nil); a.status != 404 || !strings.Contains(a.errorText(t), "not found") {
		t.Errorf("GET unknown task: %d %s, want 404", a.status, a.body)
	}
}

// TestNoTaskService: without Tasks, the task routes answer 503.
func TestNoTaskService(t *testing.T) {
	base := serve(t, gateway.Options{})
	for _, op := range []struct{ method, path string }{{"POST", "/queue"}, {"POST", "/queue/q"}, {"GET", "/tasks/x"}, {"DELETE", "/tasks/x"}, {"GET", "/queues"}} {
		a := do(t, op.method, base+op.path, []byte("task.url=http://h/"), "Content-Type", "application/x-www-form-urlencoded")
		if a.status != 503 || a.errorText(t) != "task service not configured" {
			t.Errorf("%s %s: %d %s, want 503", op.method, op.path, a.status, a.body)
		}
	}
}
