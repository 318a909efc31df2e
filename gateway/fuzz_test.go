package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
	"time"
)

// FuzzParseForm: any form parses or fails with an *ItemError, never
// panics; a parsed one is a webhook request that can be sent.
func FuzzParseForm(f *testing.F) {
	for _, s := range []string{"task.url=http://localhost:9099/worker&task.countdown=5&foo=bar",
		"task.url=https://h/&task.method=GET&task.eta=2030-01-01T00:00:00Z&a=1&a=2", "task.url=http://h/&task.key=k&task.countdown=1e400", "task.x=1", "%zz"} {
		f.Add(s)
	}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		req, s, err := parseForm(form, now)
		if err != nil {
			if _, ok := err.(*ItemError); !ok {
				t.Fatalf("error %T %v, want *ItemError", err, err)
			}
			return
		}
		if err := req.Check(); err != nil || s.Countdown < 0 || s.Countdown > MaxCountdown || s.HasCountdown && !s.ETA.IsZero() {
			t.Fatalf("accepted %q: %+v %+v (%v)", body, req, s, err)
		}
	})
}

// FuzzParseJSONTask: any body parses or fails with an *ItemError; a
// parsed one can be sent.
func FuzzParseJSONTask(f *testing.F) {
	for _, s := range []string{`{"url":"http://h/w","countdown":5,"params":{"foo":"bar"}}`, `{"url":"http://h/","method":"GET","params":{"a":[1,"x"],"b":true}}`,
		`{"url":"http://h/","eta":"2030-01-01T00:00:00Z"}`, `{"url":"http://h/","eta":1e300}`, `[]`, `{"url":"http://h/","params":{"a":{}} ,"method":"get"}`} {
		f.Add([]byte(s))
	}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, s, err := parseJSONTask(body, now)
		if err != nil {
			if _, ok := err.(*ItemError); !ok {
				t.Fatalf("error %T %v, want *ItemError", err, err)
			}
			return
		}
		if err := req.Check(); err != nil || s.Countdown < 0 || s.Countdown > MaxCountdown {
			t.Fatalf("accepted %q: %+v %+v (%v)", body, req, s, err)
		}
	})
}

// FuzzWriteScheduled: the enqueue's answer, appended by hand, is the
// answer writeJSON gives (status, headers, body), whatever the id.
func FuzzWriteScheduled(f *testing.F) {
	for _, id := range []string{"019ad5f3c2a1b6e0c4d2a9f1e3b5c7d9", "", `a"b`, `a\b`, "<&>", "é", "\x00\x7f"} {
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		fast, want := httptest.NewRecorder(), httptest.NewRecorder()
		writeScheduled(fast, id)
		writeJSON(want, http.StatusOK, scheduled{Status: "scheduled", ID: id})
		if fast.Code != want.Code || fast.Body.String() != want.Body.String() || !reflect.DeepEqual(fast.Header(), want.Header()) {
			t.Fatalf("id %q: answered %d %v %q, want %d %v %q", id, fast.Code, fast.Header(), fast.Body, want.Code, want.Header(), want.Body)
		}
	})
}
