package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gateway"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// TestBadRequests: each bad request gets its status and a JSON error
// that says what was wrong, and the gateway keeps serving.
func TestBadRequests(t *testing.T) {
	base := serve(t, gateway.Options{Pool: startWorkers(t, 1), MaxBody: 1 << 10})
	big := []byte("[" + strings.Repeat("1,", 1000) + "1]")
	cases := []struct {
		name, method, path string
		body               []byte
		status             int
		says               string
	}{
		{"bad JSON", "POST", "/v1/functions/examples.square/map", []byte(`[1, 2,`), 400, "item 2: the JSON ends early"},
		{"not an array", "POST", "/v1/functions/examples.square/map", []byte(`{"a": 1}`), 400, "want a JSON array"},
		{"wrong type", "POST", "/v1/functions/examples.square/map", []byte(`[1, 2, "3"]`), 400, "item 2: want integer (int64), got string"},
		{"wrong field type", "POST", "/v1/functions/examples.countprimes/map",
			[]byte(`[{"Lo":1,"Hi":2},{"Lo":1,"Hi":2},{"Lo":1,"Hi":2},{"Lo":1,"Hi":"x"}]`), 400, `item 3: field "Hi": want integer (int64), got string`},
		{"unknown field", "POST", "/v1/functions/examples.countprimes/call", []byte(`{"Lo":1,"High":2}`), 400, `field "High": unknown field`},
		{"fraction for an integer", "POST", "/v1/functions/examples.square/call", []byte(`1.5`), 400, "want integer (int64), got number 1.5"},
		{"two values", "POST", "/v1/functions/examples.square/call", []byte(`1 2`), 400, "more than one JSON value"},
		{"oversize body", "POST", "/v1/functions/examples.square/map", big, 413, "limit is 1024"},
		{"bad chunksize", "POST", "/v1/functions/examples.square/map?chunksize=0", []byte(`[1]`), 400, `field "chunksize"`},
		{"unknown function", "POST", "/v1/functions/nope/map", []byte(`[1]`), 404, `no function "nope"`},
		{"unknown route", "GET", "/v2/nothing", nil, 404, "no route"},
		{"wrong method", "GET", "/v1/functions/examples.square/map", nil, 405, "want POST"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, tc.method, base+tc.path, tc.body)
			if a.status != tc.status || !strings.Contains(a.errorText(t), tc.says) {
				t.Errorf("%s %s: %d %s, want %d saying %q", tc.method, tc.path, a.status, a.body, tc.status, tc.says)
			}
		})
	}
	if a := do(t, "POST", base+"/v1/functions/examples.square/call", []byte("7")); a.status != 200 || string(a.body) != "49\n" {
		t.Errorf("after the bad requests: %d %s, want 200 49", a.status, a.body)
	}
}

// TestOversizeStreamedBody: a chunked body (no Content-Length) over
// max_body answers 413 too.
func TestOversizeStreamedBody(t *testing.T) {
	base := serve(t, gateway.Options{Pool: startWorkers(t, 1), MaxBody: 1 << 10})
	body := io.MultiReader(strings.NewReader("["+strings.Repeat("1,", 2000)), strings.NewReader("1]"))
	resp := post(t, base+"/v1/functions/examples.square/map", "application/json", body, "")
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 413 || !bytes.Contains(data, []byte("max_body")) {
		t.Errorf("chunked oversize body: %d %s, want 413 naming max_body", resp.StatusCode, data)
	}
}

// TestToken: with a token, a request without it or with another one
// answers 401; with it, 200; health checks need none.
func TestToken(t *testing.T) {
	token := "0123456789abcdef0123"
	base := serve(t, gateway.Options{Token: []byte(token)})
	for _, auth := range []string{"", "Bearer wrong-token-0123456789", "Basic " + token, token} {
		a := do(t, "GET", base+"/v1/functions", nil, "Authorization", auth)
		if a.status != 401 || a.header.Get("WWW-Authenticate") == "" || !strings.Contains(a.errorText(t), "bearer token") {
			t.Errorf("Authorization %q: %d %s, want 401", auth, a.status, a.body)
		}
	}
	if a := do(t, "GET", base+"/v1/functions", nil, "Authorization", "Bearer "+token); a.status != 200 {
		t.Errorf("with the token: %d %s", a.status, a.body)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if a := do(t, "GET", base+path, nil); path == "/healthz" && a.status != 200 || path == "/readyz" && a.status != 503 {
			t.Errorf("%s without a token: %d %s", path, a.status, a.body) // no pool: not ready
		}
	}
}

// TestTooManyRequests: with max_concurrent 1, a request arriving while
// another is being read answers 429 with Retry-After.
func TestTooManyRequests(t *testing.T) {
	base := serve(t, gateway.Options{Pool: startWorkers(t, 1), MaxConcurrent: 1})
	pr, pw := io.Pipe()
	done := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequestWithContext(testenv.Context(t), "POST", base+"/v1/functions/examples.square/call", pr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- nil
			return
		}
		done <- resp
	}()
	pw.Write([]byte("1")) // the first request is now in its handler, reading
	var a answer
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if a = do(t, "GET", base+"/v1/functions", nil); a.status == 429 {
			break
		}
	}
	if a.status != 429 || a.header.Get("Retry-After") == "" || !strings.Contains(a.errorText(t), "max_concurrent") {
		t.Errorf("second request: %d %s, want 429", a.status, a.body)
	}
	pw.Write([]byte("2"))
	pw.Close()
	resp := <-done
	if resp == nil {
		t.Fatal("the first request failed")
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(b) != "144\n" {
		t.Errorf("first request: %d %s, want 200 144", resp.StatusCode, b)
	}
}

// TestHostCheck: on loopback, a request naming another host (DNS
// rebinding) answers 421.
func TestHostCheck(t *testing.T) {
	base := serve(t, gateway.Options{})
	req, _ := http.NewRequest("GET", base+"/v1/functions", nil)
	req.Host = "evil.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("Host evil.example: %d, want 421", resp.StatusCode)
	}
}

// TestNoWorkers: a function that no worker serves answers 503.
func TestNoWorkers(t *testing.T) {
	srv := testenv.Gearmand(t)
	p, err := pool.New(config.Client{JobServers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	base := serve(t, gateway.Options{Pool: p})
	a := do(t, "POST", base+"/v1/functions/examples.square/map", []byte("[1]"))
	if a.status != 503 || !strings.Contains(a.errorText(t), "no worker") {
		t.Errorf("no workers: %d %s, want 503", a.status, a.body)
	}
}

// errNegative is failOnNegative's error, declared so that it keeps its
// code over the wire.
var errNegative = pool.RegisterError("gateway-test.negative", errors.New("negative item"))

// failOnNegative fails on a negative item; served by the test's worker
// processes (this binary) and exposed here.
var failOnNegative = gateway.Expose(pool.Register("gateway-test.fail-on-negative", func(_ context.Context, x int) (int, error) {
	if x < 0 {
		return 0, fmt.Errorf("%d: %w", x, errNegative)
	}
	return x, nil
}))

// TestFunctionError: an item the function fails on answers 422 naming
// the item and the declared error; over NDJSON, after the first lines,
// as a last {"error"} line.
func TestFunctionError(t *testing.T) {
	base := serve(t, gateway.Options{Pool: startWorkers(t, 1)})
	a := do(t, "POST", base+"/v1/functions/"+failOnNegative.Name()+"/map?chunksize=1", []byte(`[1, 2, -3, 4]`))
	var body struct {
		Error string
		Index *int
		Code  string
	}
	if err := json.Unmarshal(a.body, &body); err != nil || a.status != 422 || body.Index == nil || *body.Index != 2 ||
		body.Code != "gateway-test.negative" || !strings.Contains(body.Error, "negative item") {
		t.Errorf("map with a failing item: %d %s, want 422 naming item 2", a.status, a.body)
	}
	resp := post(t, base+"/v1/functions/"+failOnNegative.Name()+"/map?chunksize=1", "application/x-ndjson", strings.NewReader("1\n2\n-3\n4\n"), "")
	data, _ := io.ReadAll(resp.Body)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	// The results before the failure come first, unless the failure was
	// known before any of them (then the status says it).
	last := lines[len(lines)-1]
	okLines := resp.StatusCode == 200 && len(lines) >= 2 && slices.Equal(lines[:len(lines)-1], []string{"1", "2"}[:len(lines)-1]) ||
		resp.StatusCode == 422 && len(lines) == 1
	if !okLines || !strings.Contains(last, `"index":2`) || !strings.Contains(last, `"error"`) {
		t.Errorf("NDJSON map with a failing item: %d %q", resp.StatusCode, data)
	}
}
