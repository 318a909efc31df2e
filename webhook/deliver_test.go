package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/webhook"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// TestPostForm: a POST carries the params form-encoded, the task's
// headers, a User-Agent naming glimpse-go and a signature that Verify
// accepts; the 2xx answer comes back as the Response.
func TestPostForm(t *testing.T) {
	ctx := testenv.Context(t)
	rcv := newReceiver(t, nil)
	c := newClient(t, webhook.Config{Secret: secret})
	resp, err := c.Deliver(ctx, webhook.Request{URL: rcv.URL + "/worker", Params: map[string][]string{"foo": {"bar"}, "n": {"1", "2"}},
		TaskID: "task-1", Queue: "emails", Attempt: 2})
	if err != nil || resp.Status != 200 || string(resp.Body) != "ok" || resp.Truncated {
		t.Fatalf("Deliver = %+v, %v; want 200 ok", resp, err)
	}
	got := rcv.next(t)
	if got.Method != "POST" || got.Path != "/worker" || string(got.Body) != "foo=bar&n=1&n=2" {
		t.Errorf("received %s %s %q, want POST /worker foo=bar&n=1&n=2", got.Method, got.Path, got.Body)
	}
	for h, want := range map[string]string{
		"Content-Type":        "application/x-www-form-urlencoded",
		webhook.HeaderTaskID:  "task-1",
		"X-Task-Id":           "task-1",
		webhook.HeaderQueue:   "emails",
		webhook.HeaderAttempt: "2",
		"User-Agent":          webhook.UserAgent(),
	} {
		if v := got.Header.Get(h); v != want {
			t.Errorf("header %s = %q, want %q", h, v, want)
		}
	}
	if !strings.HasPrefix(webhook.UserAgent(), "glimpse-go/") {
		t.Errorf("User-Agent %q does not name glimpse-go", webhook.UserAgent())
	}
	if err := webhook.Verify(secret, got.Header.Get(webhook.HeaderSignature), got.Body, 0); err != nil {
		t.Errorf("Verify of the call as sent: %v", err)
	}
}

// TestPostJSON: with Encoding JSON the params go as a JSON object: the
// enqueued object verbatim, or Params (one value a string, several an
// array).
func TestPostJSON(t *testing.T) {
	ctx := testenv.Context(t)
	rcv := newReceiver(t, nil)
	c := newClient(t, webhook.Config{Secret: secret})
	raw := `{"n":1,"tags":["a","b"],"nested":{"x":true}}`
	if _, err := c.Deliver(ctx, webhook.Request{URL: rcv.URL, Encoding: webhook.JSON, JSON: json.RawMessage(raw)}); err != nil {
		t.Fatal(err)
	}
	got := rcv.next(t)
	if string(got.Body) != raw || got.Header.Get("Content-Type") != "application/json" {
		t.Errorf("received %q as %q, want %s as application/json", got.Body, got.Header.Get("Content-Type"), raw)
	}
	if err := webhook.Verify(secret, got.Header.Get(webhook.HeaderSignature), got.Body, 0); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if _, err := c.Deliver(ctx, webhook.Request{URL: rcv.URL, Encoding: webhook.JSON, Params: map[string][]string{"foo": {"bar"}, "n": {"1", "2"}}}); err != nil {
		t.Fatal(err)
	}
	if got := rcv.next(t); string(got.Body) != `{"foo":"bar","n":["1","2"]}` {
		t.Errorf("Params as JSON: %s", got.Body)
	}
}

// TestGetQuery: a GET carries the params in the query string, after the
// URL's own, with no body; the signature covers the raw query.
func TestGetQuery(t *testing.T) {
	ctx := testenv.Context(t)
	rcv := newReceiver(t, nil)
	c := newClient(t, webhook.Config{Secret: secret})
	if _, err := c.Deliver(ctx, webhook.Request{URL: rcv.URL + "/hook?a=1", Method: "get", Params: map[string][]string{"foo": {"bar baz"}}}); err != nil {
		t.Fatal(err)
	}
	got := rcv.next(t)
	q, _ := url.ParseQuery(got.Query)
	if got.Method != "GET" || q.Get("a") != "1" || q.Get("foo") != "bar baz" || len(got.Body) != 0 {
		t.Errorf("received %s ?%s body %q", got.Method, got.Query, got.Body)
	}
	if err := webhook.Verify(secret, got.Header.Get(webhook.HeaderSignature), []byte(got.Query), 0); err != nil {
		t.Errorf("Verify of the query: %v", err)
	}
}

// TestVerifyRefuses: a changed body, another secret, an old timestamp or
// no header each fail Verify with its reason; VerifyRequest reads the
// body and puts it back.
func TestVerifyRefuses(t *testing.T) {
	ctx := testenv.Context(t)
	verdicts := make(chan error, 1)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := webhook.VerifyRequest(r, secret, time.Minute)
		if err == nil && (r.ParseForm() != nil || r.PostForm.Get("amount") != "10") {
			err = errors.New("the body was not put back")
		}
		verdicts <- err
	}))
	defer rcv.Close()
	c := newClient(t, webhook.Config{Secret: secret})
	if _, err := c.Deliver(ctx, webhook.Request{URL: rcv.URL, Params: map[string][]string{"amount": {"10"}}}); err != nil {
		t.Fatal(err)
	}
	if err := <-verdicts; err != nil {
		t.Fatalf("VerifyRequest of a true call: %v", err)
	}

	body := []byte("amount=10")
	header := webhook.Sign(secret, time.Now(), body)
	for _, tc := range []struct {
		name    string
		secret  []byte
		header  string
		payload []byte
		want    error
	}{
		{"tampered body", secret, header, []byte("amount=1000"), webhook.ErrBadSignature},
		{"other secret", []byte("another secret of 32 bytes......"), header, body, webhook.ErrBadSignature},
		{"replayed", secret, webhook.Sign(secret, time.Now().Add(-10*time.Minute), body), body, webhook.ErrTimestamp},
		{"from the future", secret, webhook.Sign(secret, time.Now().Add(10*time.Minute), body), body, webhook.ErrTimestamp},
		{"no header", secret, "", body, webhook.ErrNoSignature},
		{"no v1", secret, "t=12", body, webhook.ErrNoSignature},
	} {
		if err := webhook.Verify(tc.secret, tc.header, tc.payload, 5*time.Minute); !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
	rotated := header + ",v1=" + strings.Repeat("00", 32)
	if err := webhook.Verify(secret, rotated, body, 0); err != nil {
		t.Errorf("one of two v1 values matches: %v", err)
	}
}

// TestServerErrorRetryable: a 500 is a *StatusError that the task
// service retries.
func TestServerErrorRetryable(t *testing.T) {
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database down", http.StatusInternalServerError)
	})
	_, err := newClient(t, webhook.Config{}).Deliver(testenv.Context(t), webhook.Request{URL: rcv.URL})
	var se *webhook.StatusError
	if !errors.As(err, &se) || se.Status != 500 || !errors.Is(err, webhook.ErrStatus) || webhook.IsPermanent(err) ||
		!strings.Contains(err.Error(), "database down") {
		t.Fatalf("500: %v, want a retryable *StatusError quoting the body", err)
	}
}

// TestGonePermanent: 410 Gone is ErrGone, a permanent error.
func TestGonePermanent(t *testing.T) {
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) })
	_, err := newClient(t, webhook.Config{}).Deliver(testenv.Context(t), webhook.Request{URL: rcv.URL})
	if !errors.Is(err, webhook.ErrGone) || !webhook.IsPermanent(err) {
		t.Fatalf("410: %v, want ErrGone, permanent", err)
	}
}

// TestHangingReceiverTimesOut: a receiver that never answers is
// ErrTimeout within the request's timeout (and a retryable error).
func TestHangingReceiverTimesOut(t *testing.T) {
	rcv := newReceiver(t, hang(t))
	const timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := newClient(t, webhook.Config{}).Deliver(testenv.Context(t), webhook.Request{URL: rcv.URL, Timeout: timeout})
	took := time.Since(start)
	if !errors.Is(err, webhook.ErrTimeout) || webhook.IsPermanent(err) {
		t.Fatalf("hanging receiver: %v, want ErrTimeout", err)
	}
	if took > 3*time.Second {
		t.Errorf("returned after %v, want about %v", took, timeout)
	}
}

// TestRefusedConnection: a port nobody listens on is a retryable error.
func TestRefusedConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = newClient(t, webhook.Config{}).Deliver(testenv.Context(t), webhook.Request{URL: "http://" + addr + "/x"})
	var oe *net.OpError
	if !errors.As(err, &oe) || webhook.IsPermanent(err) || errors.Is(err, webhook.ErrTimeout) {
		t.Fatalf("refused: %v, want a retryable *net.OpError", err)
	}
}

// TestBadRequests: a request that cannot be sent names its field, is
// permanent, and sends nothing.
func TestBadRequests(t *testing.T) {
	rcv := newReceiver(t, nil)
	c := newClient(t, webhook.Config{})
	for _, tc := range []struct {
		r     webhook.Request
		field string
	}{
		{webhook.Request{}, "URL"},
		{webhook.Request{URL: "ftp://example.com/x"}, "URL"},
		{webhook.Request{URL: "file:///etc/passwd"}, "URL"},
		{webhook.Request{URL: "http://"}, "URL"},
		{webhook.Request{URL: "http://a b.example/"}, "URL"},
		{webhook.Request{URL: "/relative"}, "URL"},
		{webhook.Request{URL: rcv.URL, Method: "PUT"}, "Method"},
		{webhook.Request{URL: rcv.URL, Encoding: "xml"}, "Encoding"},
		{webhook.Request{URL: rcv.URL, Encoding: webhook.JSON, JSON: []byte("{nope")}, "JSON"},
		{webhook.Request{URL: rcv.URL, JSON: []byte(`{}`)}, "JSON"},
		{webhook.Request{URL: rcv.URL, Timeout: -time.Second}, "Timeout"},
		{webhook.Request{URL: rcv.URL, Timeout: 2 * webhook.MaxTimeout}, "Timeout"},
	} {
		_, err := c.Deliver(testenv.Context(t), tc.r)
		var re *webhook.RequestError
		if !errors.As(err, &re) || re.Field != tc.field || !errors.Is(err, webhook.ErrInvalid) || !webhook.IsPermanent(err) {
			t.Errorf("%+v: %v, want a permanent *RequestError for %s", tc.r, err, tc.field)
		}
	}
	if err := (&webhook.Request{URL: "http://u:secret@example.com/"}).Check(); err != nil {
		t.Errorf("a valid URL: %v", err)
	}
	if _, err := c.Deliver(testenv.Context(t), webhook.Request{URL: "gopher://u:hunter2@example.com/"}); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v shows the URL's password", err)
	}
	if n := len(rcv.calls); n != 0 {
		t.Errorf("%d calls reached the receiver", n)
	}
}

// TestResponseBodyBounded: a 2xx answer's body is kept up to
// MaxResponseBody.
func TestResponseBodyBounded(t *testing.T) {
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { w.Write(bytes.Repeat([]byte("x"), 1<<20)) })
	resp, err := newClient(t, webhook.Config{}).Deliver(testenv.Context(t), webhook.Request{URL: rcv.URL})
	if err != nil || len(resp.Body) != webhook.MaxResponseBody || !resp.Truncated {
		t.Fatalf("1 MiB answer: %d bytes, truncated %v, %v; want %d, truncated", len(resp.Body), resp.Truncated, err, webhook.MaxResponseBody)
	}
}

// TestRedirects: a redirect is followed (to another host without the
// signature), an endless chain is not.
func TestRedirects(t *testing.T) {
	ctx := testenv.Context(t)
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/here", http.StatusTemporaryRedirect)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/away":
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusTemporaryRedirect)
		default:
			w.Write([]byte("here"))
		}
	})
	c := newClient(t, webhook.Config{})
	resp, err := c.Deliver(ctx, webhook.Request{URL: rcv.URL + "/moved", Params: map[string][]string{"a": {"1"}}})
	if err != nil || string(resp.Body) != "here" {
		t.Fatalf("one redirect: %+v, %v", resp, err)
	}
	rcv.next(t)
	if got := rcv.next(t); got.Method != "POST" || string(got.Body) != "a=1" {
		t.Errorf("307 resent %s %q, want the POST and its body", got.Method, got.Body)
	}
	elsewhere := newReceiver(t, nil)
	signed := newClient(t, webhook.Config{Secret: secret})
	if _, err := signed.Deliver(ctx, webhook.Request{URL: rcv.URL + "/away?to=" + url.QueryEscape(elsewhere.URL)}); err != nil {
		t.Fatal(err)
	}
	if got := rcv.next(t); got.Header.Get(webhook.HeaderSignature) == "" {
		t.Error("the receiver got no signature")
	}
	if got := elsewhere.next(t); got.Header.Get(webhook.HeaderSignature) != "" {
		t.Error("a redirect to another host carried the signature")
	}
	if _, err := c.Deliver(ctx, webhook.Request{URL: rcv.URL + "/loop"}); err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Errorf("endless redirects: %v", err)
	}
	if n := len(rcv.calls); n != webhook.MaxRedirects+1 {
		t.Errorf("the redirect loop made %d calls, want %d", n, webhook.MaxRedirects+1)
	}
}

// TestConnectionsReused: calls to one receiver reuse connections: 20
// goroutines of 25 calls each open few.
func TestConnectionsReused(t *testing.T) {
	ctx := testenv.Context(t)
	// A receiver slow enough that the 20 calls are in flight together.
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { time.Sleep(2 * time.Millisecond) })
	c := newClient(t, webhook.Config{Secret: secret})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			for range 25 {
				if _, err := c.Deliver(ctx, webhook.Request{URL: rcv.URL}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// A connection goes back to the pool a moment after its answer is
	// read, so a few more than 20 may be dialled (measured: 20-33); a
	// client without keep-alive would dial 500.
	if n := rcv.newConns.Load(); n > 100 {
		t.Errorf("500 calls from 20 goroutines opened %d connections, want at most 100", n)
	}
}

// TestTaskInfoFromContext: Config.TaskInfo fills the task's headers the
// Request leaves empty.
func TestTaskInfoFromContext(t *testing.T) {
	type key struct{}
	rcv := newReceiver(t, nil)
	c := newClient(t, webhook.Config{TaskInfo: func(ctx context.Context) (string, string, int, bool) {
		n, ok := ctx.Value(key{}).(int)
		return "from-ctx", "q", n, ok
	}})
	ctx := context.WithValue(testenv.Context(t), key{}, 3)
	if _, err := c.Deliver(ctx, webhook.Request{URL: rcv.URL, TaskID: "given"}); err != nil {
		t.Fatal(err)
	}
	h := rcv.next(t).Header
	if h.Get(webhook.HeaderTaskID) != "given" || h.Get(webhook.HeaderQueue) != "q" || h.Get(webhook.HeaderAttempt) != "3" {
		t.Errorf("headers %v", h)
	}
}
