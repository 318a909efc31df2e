package webhook_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/cli"
	"github.com/glimpse-go/glimpse/webhook"
)

// cliEnv makes the test binary run glimpse-cluster (cli.Main) with the
// variable's space-separated arguments: a real worker process.
const cliEnv = "WEBHOOK_TEST_GLIMPSE_CLUSTER"

func TestMain(m *testing.M) {
	if args := os.Getenv(cliEnv); args != "" {
		os.Args = append(os.Args[:1], strings.Fields(args)...)
		cli.Main()
		return
	}
	goleak.VerifyTestMain(m)
}

// received is one call as a receiver saw it.
type received struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

// receiver is a real HTTP server on loopback that records every call and
// answers with answer (200 "ok" when nil).
type receiver struct {
	*httptest.Server
	calls    chan received
	newConns atomic.Int64
}

func newReceiver(t *testing.T, answer http.HandlerFunc) *receiver {
	t.Helper()
	r := &receiver{calls: make(chan received, 10000)}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.calls <- received{Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Header: req.Header.Clone(), Body: body}
		req.Body = io.NopCloser(bytes.NewReader(body)) // for answer
		if answer == nil {
			io.WriteString(w, "ok")
			return
		}
		answer(w, req)
	}))
	r.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			r.newConns.Add(1)
		}
	}
	r.Start()
	t.Cleanup(r.Close)
	return r
}

// next returns the next recorded call, failing the test after 10s.
func (r *receiver) next(t *testing.T) received {
	t.Helper()
	select {
	case c := <-r.calls:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver got no call within 10s")
		return received{}
	}
}

// newClient is a webhook.Client whose idle connections the test's
// cleanup closes.
func newClient(t *testing.T, cfg webhook.Config) *webhook.Client {
	c := webhook.NewClient(cfg)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// hang is a handler that answers only when the test ends.
func hang(t *testing.T) http.HandlerFunc {
	stop := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(stop) }) })
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done(): // the caller gave up and closed the connection
		case <-time.After(20 * time.Second):
		}
	}
}
