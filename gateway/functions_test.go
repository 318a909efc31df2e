package gateway_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/gateway"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// TestMapFromCurl: curl posts 10,000 items to /v1/.../map of a gateway
// whose pool runs on a real worker process; the answer is every square,
// in order.
func TestMapFromCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is not installed (Debian package curl)")
	}
	base := serve(t, gateway.Options{Pool: startWorkers(t, 2)})
	const n = 10_000
	items := make([]int64, n)
	for i := range items {
		items[i] = int64(i) - 5000
	}
	data, _ := json.Marshal(items)
	file := filepath.Join(t.TempDir(), "items.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(testenv.Context(t), curl, "-sS", "--fail-with-body", "-H", "Content-Type: application/json",
		"--data-binary", "@"+file, base+"/v1/functions/examples.square/map")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	var got []int64
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("answer is not a JSON array of numbers: %v: %.200s", err, out)
	}
	if len(got) != n {
		t.Fatalf("%d results for %d items", len(got), n)
	}
	for i, x := range items {
		if got[i] != x*x {
			t.Fatalf("result %d = %d, want %d", i, got[i], x*x)
		}
	}
}

// TestMapStreamsNDJSON: NDJSON items in, one result a line out, in order;
// a JSON array with Accept: application/x-ndjson streams too.
func TestMapStreamsNDJSON(t *testing.T) {
	base := serve(t, gateway.Options{Pool: startWorkers(t, 2)})
	var in bytes.Buffer
	for i := range 3000 {
		fmt.Fprintf(&in, "%d\n", i)
	}
	resp := post(t, base+"/v1/functions/examples.hex/map", "application/x-ndjson", &in, "")
	checkLines(t, resp, 3000, func(i int) string { return fmt.Sprintf("%q", fmt.Sprintf("0x%x", i)) })
	resp = post(t, base+"/v1/functions/examples.square/map", "application/json", strings.NewReader("[1,2,3]"), "application/x-ndjson")
	checkLines(t, resp, 3, func(i int) string { return fmt.Sprint((i + 1) * (i + 1)) })
}

func post(t *testing.T, url, contentType string, body io.Reader, accept string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(testenv.Context(t), "POST", url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// checkLines reads n NDJSON lines, line i being want(i), and the end.
func checkLines(t *testing.T, resp *http.Response, n int, want func(int) string) {
	t.Helper()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("answer %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	sc := bufio.NewScanner(resp.Body)
	i := 0
	for ; sc.Scan(); i++ {
		if i >= n || sc.Text() != want(i) {
			t.Fatalf("line %d = %q, want %q", i, sc.Text(), want(i))
		}
	}
	if i != n || sc.Err() != nil {
		t.Fatalf("%d lines (%v), want %d", i, sc.Err(), n)
	}
}

// TestCallAndList: /call runs one item on a worker; /v1/functions lists
// the exposed functions with their shapes.
func TestCallAndList(t *testing.T) {
	base := serve(t, gateway.Options{Pool: startWorkers(t, 1)})
	a := do(t, "POST", base+"/v1/functions/examples.countprimes/call", []byte(`{"Lo": 0, "Hi": 100}`))
	if a.status != 200 || strings.TrimSpace(string(a.body)) != "25" {
		t.Errorf("call countprimes [0,100): %d %s, want 200 25", a.status, a.body)
	}
	a = do(t, "GET", base+"/v1/functions", nil)
	var list struct {
		Functions []struct{ Name, In, Out string }
	}
	if err := json.Unmarshal(a.body, &list); err != nil || a.status != 200 {
		t.Fatalf("list: %d %s (%v)", a.status, a.body, err)
	}
	in, out := funcs.CountPrimes.Shapes()
	found := false
	for _, f := range list.Functions {
		if f.Name == funcs.CountPrimes.Name() {
			found = f.In == in && f.Out == out
		}
	}
	if !found {
		t.Errorf("list lacks %s with In %s Out %s: %s", funcs.CountPrimes.Name(), in, out, a.body)
	}
}

// TestMapStreamsAsItemsCome: over NDJSON, results come back while the
// request's body is still open (once the map's window of chunks fills):
// a client feeds an input of no set length and reads results as it goes.
func TestMapStreamsAsItemsCome(t *testing.T) {
	base := serve(t, gateway.Options{Pool: startWorkers(t, 1)})
	pr, pw := io.Pipe()
	stop := make(chan struct{})
	fed := make(chan int, 1)
	go func() {
		n := 0
		defer func() { pw.Close(); fed <- n }()
		for ; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := fmt.Fprintf(pw, "%d\n", n); err != nil {
				return
			}
		}
	}()
	resp := post(t, base+"/v1/functions/examples.square/map?chunksize=10", "application/x-ndjson", pr, "")
	lines := bufio.NewScanner(resp.Body)
	if !lines.Scan() || lines.Text() != "0" {
		t.Fatalf("first line %q (%v), want 0", lines.Text(), lines.Err())
	}
	close(stop) // the input ends only now, after the first result came
	n := <-fed
	i := 1
	for ; lines.Scan(); i++ {
		if lines.Text() != fmt.Sprint(i*i) {
			t.Fatalf("line %d = %q, want %d", i, lines.Text(), i*i)
		}
	}
	if i != n {
		t.Errorf("%d results for %d items", i, n)
	}
}
