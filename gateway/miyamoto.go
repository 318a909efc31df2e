package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/webhook"
)

// MaxCountdown bounds a task's countdown, and how far ahead its ETA may
// be.
const MaxCountdown = 366 * 24 * time.Hour

// The task fields of Miyamoto's form enqueue; every other field is a
// param of the webhook call.
const (
	formPrefix    = "task."
	formURL       = "task.url"
	formMethod    = "task.method"
	formCountdown = "task.countdown"
	formETA       = "task.eta"
	formKey       = "task.key"
)

// schedule is when and under which key a task runs: the fields every
// enqueue route shares.
type schedule struct {
	Key          string
	Countdown    time.Duration
	HasCountdown bool
	ETA          time.Time
}

// parseForm reads Miyamoto's form enqueue: task.url, task.method,
// task.countdown (seconds), task.eta (Unix seconds or RFC 3339),
// task.key; every other field is a param, form-encoded in the call. It
// takes form: the task fields are deleted and the rest, the params, is
// the request's (no copy of every param on each enqueue).
func parseForm(form url.Values, now time.Time) (webhook.Request, schedule, error) {
	req := webhook.Request{Encoding: webhook.Form}
	var s schedule
	for name, values := range form {
		if !strings.HasPrefix(name, formPrefix) {
			continue
		}
		delete(form, name)
		if len(values) != 1 {
			return req, s, fieldError(name, fmt.Errorf("given %d times: want one value", len(values)))
		}
		if err := s.formField(&req, name, values[0], now); err != nil {
			return req, s, err
		}
	}
	if len(form) > 0 {
		req.Params = form
	}
	return req, s, finishRequest(&req, s, formURL, formCountdown)
}

// formField reads one task.* field.
func (s *schedule) formField(req *webhook.Request, name, value string, now time.Time) error {
	var err error
	switch name {
	case formURL:
		req.URL = value
	case formMethod:
		req.Method = value
	case formKey:
		s.Key = value
	case formCountdown:
		s.Countdown, err = parseCountdown(value)
		s.HasCountdown = err == nil
	case formETA:
		s.ETA, err = parseETA(value, now)
	default:
		err = errors.New("unknown task field: want task.url, task.method, task.countdown, task.eta or task.key (params have no task. prefix)")
	}
	if err != nil {
		return fieldError(name, err)
	}
	return nil
}

// jsonTask is Miyamoto's JSON enqueue.
type jsonTask struct {
	URL       string          `json:"url"`
	Method    string          `json:"method"`
	Countdown *float64        `json:"countdown"`
	ETA       json.RawMessage `json:"eta"`
	Key       string          `json:"key"`
	Params    json.RawMessage `json:"params"`
}

// parseJSONTask reads Miyamoto's JSON enqueue: url, method, countdown,
// eta, key, params (an object). A POST sends params as JSON, as given;
// a GET sends them in the query string.
func parseJSONTask(data []byte, now time.Time) (webhook.Request, schedule, error) {
	var t jsonTask
	var s schedule
	if err := decodeItem(data, &t, -1); err != nil {
		return webhook.Request{}, s, err
	}
	req := webhook.Request{URL: t.URL, Method: t.Method, Encoding: webhook.JSON}
	s.Key = t.Key
	var err error
	if t.Countdown != nil {
		s.Countdown, err = countdownOf(*t.Countdown)
		if err != nil {
			return req, s, fieldError("countdown", err)
		}
		s.HasCountdown = true
	}
	if s.ETA, err = jsonETA(t.ETA, now); err != nil {
		return req, s, fieldError("eta", err)
	}
	if err := setJSONParams(&req, t.Params); err != nil {
		return req, s, fieldError("params", err)
	}
	return req, s, finishRequest(&req, s, "url", "countdown")
}

// setJSONParams puts params in req: verbatim for a POST, as a query for
// a GET.
func setJSONParams(req *webhook.Request, params json.RawMessage) error {
	if len(params) == 0 || string(params) == "null" {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(params, &obj); err != nil {
		return errors.New("want an object")
	}
	if !strings.EqualFold(req.Method, "GET") {
		req.JSON = params
		return nil
	}
	req.Params = make(map[string][]string, len(obj))
	for name, v := range obj {
		values, err := queryValues(v)
		if err != nil {
			return fmt.Errorf("%q: %w", name, err)
		}
		req.Params[name] = values
	}
	return nil
}

// queryValues renders a param of a GET: a scalar, or an array of them.
func queryValues(v json.RawMessage) ([]string, error) {
	var list []json.RawMessage
	if json.Unmarshal(v, &list) != nil {
		list = []json.RawMessage{v}
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		var s string
		if json.Unmarshal(e, &s) == nil {
			out = append(out, s)
			continue
		}
		e = bytes.TrimSpace(e)
		if len(e) == 0 || e[0] == '{' || e[0] == '[' {
			return nil, errors.New("a GET sends scalars or arrays of scalars only")
		}
		out = append(out, string(e))
	}
	return out, nil
}

// finishRequest checks what the webhook call and the schedule need.
func finishRequest(req *webhook.Request, s schedule, urlField, countdownField string) error {
	if req.URL == "" {
		return fieldError(urlField, errors.New("missing: the URL to call"))
	}
	if s.HasCountdown && !s.ETA.IsZero() {
		return fieldError(countdownField, errors.New("given with an eta: keep one"))
	}
	if err := req.Check(); err != nil {
		return &ItemError{Index: -1, Err: err}
	}
	return nil
}

func parseCountdown(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("%q: want a number of seconds", s)
	}
	return countdownOf(f)
}

func countdownOf(sec float64) (time.Duration, error) {
	if math.IsNaN(sec) || sec < 0 || sec > MaxCountdown.Seconds() {
		return 0, fmt.Errorf("%v: want 0 to %v seconds", sec, MaxCountdown.Seconds())
	}
	return time.Duration(sec * float64(time.Second)), nil
}

// parseETA reads Unix seconds or an RFC 3339 time, not more than
// MaxCountdown ahead.
func parseETA(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	var t time.Time
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) < 1e12 {
		t = time.Unix(0, 0).Add(time.Duration(f * float64(time.Second)))
	} else if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
		return time.Time{}, fmt.Errorf("%q: want Unix seconds or an RFC 3339 time", s)
	}
	if t.Sub(now) > MaxCountdown {
		return time.Time{}, fmt.Errorf("%s: more than %v ahead", t.Format(time.RFC3339), MaxCountdown)
	}
	return t, nil
}

func jsonETA(raw json.RawMessage, now time.Time) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw) // a number
	}
	return parseETA(s, now)
}

func fieldError(field string, err error) error {
	return &ItemError{Index: -1, Field: field, Err: err}
}
