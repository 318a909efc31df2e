package cli

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/testenv"
)

// startHTTP runs "glimpse-cluster -c cfg http" and returns it with the
// URL it printed.
func startHTTP(t *testing.T, ctx context.Context, cfg string) (*proc, string) {
	t.Helper()
	p := startProc(t, "-c", cfg, "http")
	out := p.stdout.Wait(t, ctx, "the gateway's URL", func(s string) bool { return strings.Contains(s, "\n") }, p.done)
	url := regexp.MustCompile(`^http: (http://127\.0\.0\.1:\d+/)`).FindStringSubmatch(out)
	if url == nil {
		t.Fatalf("http printed no URL: %q", out)
	}
	return p, url[1]
}

// TestHTTPFinishesRequestOnSIGTERM: glimpse-cluster http, with a token
// from a private file, answers 401 without it; a request whose body is
// still coming when SIGTERM arrives gets its answer (computed by a real
// worker), and the process then exits 0.
func TestHTTPFinishesRequestOnSIGTERM(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	const token = "0123456789abcdef-token"
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, []string{srv.Addr()}, "[http]", "listen = 127.0.0.1:0", "token_file = "+tokenFile, "shutdown_timeout = 20s")
	startProc(t, "-c", cfg, "worker", "-n", "1")
	waitWorker(t, ctx, srv.Addr(), "glimpse.examples.square")
	gw, base := startHTTP(t, ctx, cfg)
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 20 * time.Second}}
	defer client.CloseIdleConnections()
	if resp, err := client.Get(base + "v1/functions"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("no token: %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}

	reading := make(chan struct{})
	pr, pw := io.Pipe()
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		Got100Continue: func() { close(reading) }}), "POST", base+"v1/functions/examples.square/call", pr)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Expect", "100-continue") // 100 comes when the handler reads the body
	answered := make(chan string, 1)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			answered <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answered <- resp.Status + " " + strings.TrimSpace(string(b))
	}()
	go pw.Write([]byte("1")) // the body's first byte, sent once the 100 came
	select {
	case <-reading:
	case <-time.After(20 * time.Second):
		t.Fatal("the request never reached its handler")
	}
	gw.signal(t, syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond) // the gateway is shutting down meanwhile
	pw.Write([]byte("2"))
	pw.Close()
	if got := <-answered; got != "200 OK 144" {
		t.Errorf("the request in flight at SIGTERM: %q, want 200 OK 144", got)
	}
	if code := gw.wait(t, ctx); code != exitOK {
		t.Errorf("http exit %d after SIGTERM, want 0", code)
	}
}

// TestLocalServesGateway: glimpse-cluster local prints the gateway's URL,
// which runs the example functions and serves the dashboard at /.
func TestLocalServesGateway(t *testing.T) {
	ctx := testenv.Context(t)
	p := startProc(t, "local", "-n", "1")
	out := p.stdout.Wait(t, ctx, "the gateway's URL", func(s string) bool { return strings.Contains(s, "# dashboard:") }, p.done)
	m := regexp.MustCompile(`# http: (http://127\.0\.0\.1:\d+/)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("local printed no gateway URL:\n%s", out)
	}
	resp, err := http.Post(m[1]+"v1/functions/examples.hex/call", "application/json", strings.NewReader("255"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "\"0xff\"\n" {
		t.Errorf("call examples.hex 255 on local: %d %s", resp.StatusCode, b)
	}
	resp, err = http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET / on local: %d %s, want the dashboard", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	http.DefaultClient.CloseIdleConnections()
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, ctx); code != exitOK {
		t.Errorf("local exit %d", code)
	}
}
