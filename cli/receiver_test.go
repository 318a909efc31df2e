package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/testenv"
)

// delivery is one webhook call a receiver got.
type delivery struct {
	at     time.Time
	path   string
	header http.Header
	ctype  string
	body   string
}

// receiver is a web daemon on loopback that records the webhook calls it
// gets. Each path answers from its script (see url): the statuses of its
// first calls, then 200 "done PATH".
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []delivery
	script map[string][]int
	groups map[string]*callGroup
}

// callGroup holds the calls to a path until n of them are in flight.
type callGroup struct {
	n, in   int
	all     chan struct{} // closed when n were in flight together
	timeout time.Duration
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{script: map[string][]int{}, groups: map[string]*callGroup{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

// url returns the URL of path, whose first calls answer statuses.
func (rc *receiver) url(path string, statuses ...int) string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.script[path] = statuses
	return rc.srv.URL + path
}

// together makes the calls to path wait until n of them are in flight at
// once, for at most timeout: those that saw n answer by the script, the
// others 503.
func (rc *receiver) together(path string, n int, timeout time.Duration) string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.groups[path] = &callGroup{n: n, all: make(chan struct{}), timeout: timeout}
	return rc.srv.URL + path
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	n := 0
	for _, d := range rc.got {
		if d.path == r.URL.Path {
			n++
		}
	}
	rc.got = append(rc.got, delivery{time.Now(), r.URL.Path, r.Header.Clone(), r.Header.Get("Content-Type"), string(b)})
	status := http.StatusOK
	if s := rc.script[r.URL.Path]; n < len(s) {
		status = s[n]
	}
	g := rc.groups[r.URL.Path]
	rc.mu.Unlock()
	if g != nil && !rc.wait(g) {
		status = http.StatusServiceUnavailable
	}
	if status != http.StatusOK {
		http.Error(w, "receiver says no", status)
		return
	}
	fmt.Fprintf(w, "done %s", r.URL.Path)
}

// wait counts a call in g's flight and waits for g's n.
func (rc *receiver) wait(g *callGroup) bool {
	rc.mu.Lock()
	if g.in++; g.in == g.n {
		close(g.all)
	}
	rc.mu.Unlock()
	defer func() {
		rc.mu.Lock()
		g.in--
		rc.mu.Unlock()
	}()
	select {
	case <-g.all:
		return true
	case <-time.After(g.timeout):
		return false
	}
}

// to returns the deliveries to path, in the order they came.
func (rc *receiver) to(path string) []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []delivery
	for _, d := range rc.got {
		if d.path == path {
			out = append(out, d)
		}
	}
	return out
}

// await waits for n deliveries to path.
func (rc *receiver) await(t *testing.T, ctx context.Context, path string, n int) []delivery {
	t.Helper()
	testenv.Eventually(t, ctx, fmt.Sprintf("%d calls to %s", n, path), func() (bool, error) { return len(rc.to(path)) >= n, nil })
	return rc.to(path)
}
