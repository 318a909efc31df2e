package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/webhook"
)

// scheduled is the answer of an enqueue, as Miyamoto's.
type scheduled struct {
	Status string `json:"status"` // "scheduled"
	ID     string `json:"id"`
}

// tasks returns the task service, or answers 503.
func (g *Gateway) tasks(w http.ResponseWriter) (Tasks, bool) {
	if g.opts.Tasks == nil {
		fail(w, ErrNoTasks)
		return nil, false
	}
	return g.opts.Tasks, true
}

// enqueueMiyamoto is Miyamoto's POST /queue and /queue/{name}: a task
// that calls a webhook (webhook.Deliver), from a form or JSON.
func (g *Gateway) enqueueMiyamoto(w http.ResponseWriter, r *http.Request) {
	ts, ok := g.tasks(w)
	if !ok {
		return
	}
	queue, err := queueName(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	req, s, err := g.parseMiyamoto(r)
	if err == nil {
		err = idempotencyKey(r, &s)
	}
	if err != nil {
		fail(w, err)
		return
	}
	req.Queue = queue
	g.enqueue(w, r, ts, webhook.Name, req, queue, s)
}

// parseMiyamoto reads the body by its type: a form (curl -d) or JSON.
func (g *Gateway) parseMiyamoto(r *http.Request) (webhook.Request, schedule, error) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return webhook.Request{}, schedule{}, bodyError(err)
	}
	switch ct := mediaType(r.Header.Get("Content-Type")); ct {
	case "application/json":
		return parseJSONTask(data, g.opts.Now())
	case "application/x-www-form-urlencoded", "":
		form, err := url.ParseQuery(string(data))
		if err != nil {
			return webhook.Request{}, schedule{}, &ItemError{Index: -1, Err: fmt.Errorf("not a form: %w", err)}
		}
		return parseForm(form, g.opts.Now())
	default:
		return webhook.Request{}, schedule{}, fmt.Errorf("%w %q: want application/x-www-form-urlencoded or application/json", ErrMediaType, ct)
	}
}

// queueName checks a queue of the path; "" is the default queue.
func queueName(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	if !config.ValidFunctionName(name) {
		return "", &ItemError{Index: -1, Err: fmt.Errorf("queue name %q: want 1-200 of ASCII letters, digits, '.', '_', '-', ':'", name)}
	}
	return name, nil
}

// idempotencyKey takes the Idempotency-Key header into s; given with
// another key in the body, it is an error.
func idempotencyKey(r *http.Request, s *schedule) error {
	h := r.Header.Get("Idempotency-Key")
	switch {
	case h == "":
	case s.Key != "" && s.Key != h:
		return &ItemError{Index: -1, Field: "Idempotency-Key", Err: errors.New("differs from the key in the body: keep one")}
	default:
		s.Key = h
	}
	return nil
}

// enqueue hands the task to the service and answers {"status":
// "scheduled", "id": ...}.
func (g *Gateway) enqueue(w http.ResponseWriter, r *http.Request, ts Tasks, fn string, item any, queue string, s schedule) {
	f, ok := lookup(fn)
	if !ok {
		errorf(w, http.StatusNotFound, "no function %q: see GET /v1/functions", fn)
		return
	}
	payload, err := f.taskPayload(item)
	if err != nil {
		fail(w, &ItemError{Index: -1, Err: err})
		return
	}
	id, err := ts.Enqueue(r.Context(), EnqueueRequest{Func: fn, Item: item, Payload: payload, Queue: queue,
		Key: s.Key, Countdown: s.Countdown, HasCountdown: s.HasCountdown, ETA: s.ETA})
	if err != nil {
		fail(w, err)
		return
	}
	g.opts.Stats.enqueued.Add(1)
	writeScheduled(w, id)
}

// The headers of writeJSON, set without canonicalizing their names on
// every answer.
var (
	jsonContentType = []string{"application/json"}
	noSniff         = []string{"nosniff"}
)

// writeScheduled answers {"status":"scheduled","id":ID}, as writeJSON
// would, with the body appended by hand: the answer of every enqueue,
// not worth encoding/json's reflection. An id that JSON would escape
// goes through writeJSON.
func writeScheduled(w http.ResponseWriter, id string) {
	if !plainJSONString(id) {
		writeJSON(w, http.StatusOK, scheduled{Status: "scheduled", ID: id})
		return
	}
	const head, tail = `{"status":"scheduled","id":"`, "\"}\n"
	body := make([]byte, 0, len(head)+len(id)+len(tail))
	body = append(append(append(body, head...), id...), tail...)
	h := w.Header()
	h["Content-Type"], h["X-Content-Type-Options"] = jsonContentType, noSniff
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// plainJSONString says whether encoding/json writes s as is between its
// quotes: printable ASCII without '"', '\\' and the HTML characters it
// escapes.
func plainJSONString(s string) bool {
	for i := range len(s) {
		switch c := s[i]; {
		case c < 0x20, c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// functionTask is the body of POST /v1/functions/{name}/tasks.
type functionTask struct {
	Item      json.RawMessage `json:"item"`
	Queue     string          `json:"queue"`
	Key       string          `json:"key"`
	Countdown *float64        `json:"countdown"`
	ETA       json.RawMessage `json:"eta"`
}

// enqueueFunction enqueues a task of an exposed function.
func (g *Gateway) enqueueFunction(w http.ResponseWriter, r *http.Request) {
	f, ok := g.function(w, r, false)
	if !ok {
		return
	}
	ts, ok := g.tasks(w)
	if !ok {
		return
	}
	item, queue, s, err := g.parseFunctionTask(r, f)
	if err == nil {
		err = idempotencyKey(r, &s)
	}
	if err != nil {
		fail(w, err)
		return
	}
	g.enqueue(w, r, ts, f.Name(), item, queue, s)
}

func (g *Gateway) parseFunctionTask(r *http.Request, f function) (item any, queue string, s schedule, err error) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, "", s, bodyError(err)
	}
	var t functionTask
	if err := decodeItem(data, &t, -1); err != nil {
		return nil, "", s, err
	}
	if len(t.Item) == 0 {
		return nil, "", s, fieldError("item", errors.New("missing: the function's item"))
	}
	if item, err = f.decode(t.Item, -1); err != nil {
		var ie *ItemError
		if errors.As(err, &ie) {
			ie.Field = joinField("item", ie.Field)
		}
		return nil, "", s, err
	}
	if queue, err = queueName(t.Queue); err != nil {
		return nil, "", s, err
	}
	s, err = t.schedule(g.opts.Now())
	return item, queue, s, err
}

func (t *functionTask) schedule(now time.Time) (schedule, error) {
	s := schedule{Key: t.Key}
	var err error
	if t.Countdown != nil {
		if s.Countdown, err = countdownOf(*t.Countdown); err != nil {
			return s, fieldError("countdown", err)
		}
		s.HasCountdown = true
	}
	if s.ETA, err = jsonETA(t.ETA, now); err != nil {
		return s, fieldError("eta", err)
	}
	if s.HasCountdown && !s.ETA.IsZero() {
		return s, fieldError("countdown", errors.New("given with an eta: keep one"))
	}
	return s, nil
}

func joinField(a, b string) string {
	if b == "" {
		return a
	}
	return a + "." + b
}

func (g *Gateway) getTask(w http.ResponseWriter, r *http.Request) {
	ts, ok := g.tasks(w)
	if !ok {
		return
	}
	v, err := ts.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (g *Gateway) cancelTask(w http.ResponseWriter, r *http.Request) {
	ts, ok := g.tasks(w)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if err := ts.Cancel(r.Context(), id); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "cancelled", "id": id})
}

func (g *Gateway) listQueues(w http.ResponseWriter, r *http.Request) {
	ts, ok := g.tasks(w)
	if !ok {
		return
	}
	qs, err := ts.Queues(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	if qs == nil {
		qs = []QueueView{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"queues": qs})
}
