package webhook_test

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/clustertest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
	"github.com/glimpse-go/glimpse/webhook"
)

// startWorkerProcess runs `glimpse-cluster -c CONFIG worker -n slots`
// (this test binary as glimpse-cluster) on a fresh gearmand, with the
// webhook secret in a file of mode 0600, and returns a pool on it.
func startWorkerProcess(t *testing.T, slots int) *pool.Pool {
	t.Helper()
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	secretFile := filepath.Join(t.TempDir(), "webhook.secret")
	if err := os.WriteFile(secretFile, append(secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := clustertest.WriteConfig(t, []string{srv.Addr()}, "[http]", "webhook_secret_file = "+secretFile)
	_, out := testenv.Subprocess(t, cliEnv+"=-c "+cfg+" worker -n "+strconv.Itoa(slots))
	go io.Copy(io.Discard, out)
	clustertest.WaitWorker(t, ctx, srv.Addr(), "glimpse."+webhook.Name)
	p, err := pool.New(config.Client{JobServers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestWorkerProcessDelivers: a `glimpse-cluster worker` process serves
// the built-in function; a map of webhook.Deliver reaches the receiver,
// each call signed with the secret of the worker's config, and the
// answers come back in order.
func TestWorkerProcessDelivers(t *testing.T) {
	ctx := testenv.Context(t)
	p := startWorkerProcess(t, 4)
	var mu sync.Mutex
	seen := map[string]bool{}
	var bad []string
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		body, err := webhook.VerifyRequest(r, secret, 0)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			bad = append(bad, err.Error())
		}
		seen[r.Header.Get(webhook.HeaderTaskID)] = true
		w.Write(body)
	})
	reqs := make([]webhook.Request, 20)
	for i := range reqs {
		reqs[i] = webhook.Request{URL: rcv.URL + "/hook", TaskID: "task-" + strconv.Itoa(i), Attempt: 1,
			Params: map[string][]string{"i": {strconv.Itoa(i)}}}
	}
	out, err := pool.Map(ctx, p, webhook.Deliver, reqs, pool.Chunksize(1))
	if err != nil {
		t.Fatal(err)
	}
	for i, resp := range out {
		if resp.Status != 200 || string(resp.Body) != "i="+strconv.Itoa(i) {
			t.Errorf("answer %d: %d %q", i, resp.Status, resp.Body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != len(reqs) || len(bad) > 0 {
		t.Errorf("the receiver saw %d tasks, want %d; signatures refused: %v", len(seen), len(reqs), bad)
	}
}

// TestWorkerProcessErrors: the errors of a call made on a worker process
// keep their meaning at the client: 410 is ErrGone and permanent, 500
// ErrStatus and retryable, a bad URL ErrInvalid and permanent.
func TestWorkerProcessErrors(t *testing.T) {
	ctx := testenv.Context(t)
	p := startWorkerProcess(t, 2)
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.WriteHeader(code)
	})
	for _, tc := range []struct {
		url       string
		want      error
		permanent bool
	}{
		{rcv.URL + "?code=410", webhook.ErrGone, true},
		{rcv.URL + "?code=500", webhook.ErrStatus, false},
		{"ftp://example.com/", webhook.ErrInvalid, true},
	} {
		_, err := pool.Map(ctx, p, webhook.Deliver, []webhook.Request{{URL: tc.url}})
		var te *pool.TaskError
		if !errors.As(err, &te) || !errors.Is(err, tc.want) || webhook.IsPermanent(err) != tc.permanent {
			t.Errorf("%s: %v, want a *pool.TaskError that is %v (permanent %v)", tc.url, err, tc.want, tc.permanent)
		}
	}
}
