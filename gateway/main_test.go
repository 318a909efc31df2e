package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/cli"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/gateway"
	"github.com/glimpse-go/glimpse/internal/clustertest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// cliEnv makes the test binary run glimpse-cluster (cli.Main) with the
// variable's space-separated arguments: a real worker process serving
// the example functions (linked in through examples/funcs).
const cliEnv = "GATEWAY_TEST_GLIMPSE_CLUSTER"

func TestMain(m *testing.M) {
	if args := os.Getenv(cliEnv); args != "" {
		os.Args = append(os.Args[:1], strings.Fields(args)...)
		cli.Main()
		return
	}
	goleak.VerifyTestMain(m)
}

// startWorkers runs `glimpse-cluster -c CONFIG worker -n slots` on a
// fresh gearmand and returns a pool on it.
func startWorkers(t *testing.T, slots int) *pool.Pool {
	t.Helper()
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	cfg := clustertest.WriteConfig(t, []string{srv.Addr()})
	_, out := testenv.Subprocess(t, cliEnv+"=-c "+cfg+" worker -n "+strconv.Itoa(slots))
	go io.Copy(io.Discard, out)
	clustertest.WaitWorker(t, ctx, srv.Addr(), "glimpse."+funcs.Square.Name())
	p, err := pool.New(config.Client{JobServers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// serve serves a gateway with opts on a loopback port for the test and
// returns its base URL (no trailing slash).
func serve(t *testing.T, opts gateway.Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- gateway.New(opts).Serve(ctx, ln, gateway.Timeouts{Shutdown: 5 * time.Second}) }()
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// answer is an HTTP answer as a test reads it.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// errorText is the answer's {"error": ...}.
func (a answer) errorText(t *testing.T) string {
	t.Helper()
	var e struct{ Error string }
	if err := json.Unmarshal(a.body, &e); err != nil || e.Error == "" {
		t.Fatalf("answer %d is not a JSON error: %q", a.status, a.body)
	}
	return e.Error
}

// do sends method url with body and the headers (name, value pairs).
func do(t *testing.T, method, url string, body []byte, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(testenv.Context(t), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, data}
}
