package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/certs"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// proxyCerts writes a CA certificate and a server certificate for
// 127.0.0.1 with its key, and returns their paths.
func proxyCerts(t *testing.T) (caFile, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	ca, err := certs.NewCA("cli test CA")
	if err != nil {
		t.Fatal(err)
	}
	if caFile, err = ca.WriteCA(dir, "ca.pem"); err != nil {
		t.Fatal(err)
	}
	server, err := ca.Server("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if certFile, keyFile, err = certs.WritePair(dir, "proxy", server); err != nil {
		t.Fatal(err)
	}
	return caFile, certFile, keyFile
}

// TestTLSProxyCommand: "glimpse-cluster tls-proxy" in front of gearmand
// serves a cluster over TLS: a worker process and a pool configured with
// tls = true reach gearmand through it and a map returns the right
// values, status answers through it; on SIGTERM it exits 0 at once.
func TestTLSProxyCommand(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	caFile, certFile, keyFile := proxyCerts(t)
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	proxy := startProc(t, "tls-proxy", "-listen", listen, "-to", srv.Addr(), "-cert", certFile, "-key", keyFile)
	proxy.stderr.WaitFor(t, ctx, "serving gearmand over TLS", proxy.done)
	proxy.stderr.WaitFor(t, ctx, "no -client-ca: anyone who can reach "+listen, proxy.done) // the warning

	cfg := writeConfig(t, []string{listen}, "tls = true", "tls_ca_file = "+caFile)
	startProc(t, "-c", cfg, "worker", "-n", "2")
	waitWorker(t, ctx, srv.Addr(), "glimpse.examples.square")
	pl, err := pool.FromConfigFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	checkSquares(t, ctx, pl)
	code, stdout, stderr := runCLI(t, "-c", cfg, "status")
	if code != exitOK || !strings.Contains(stdout, "examples.square") {
		t.Errorf("status over TLS: exit %d\n%s%s", code, stdout, stderr)
	}

	proxy.signal(t, syscall.SIGTERM)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if code := proxy.wait(t, wctx); code != exitOK {
		t.Fatalf("tls-proxy exit %d after SIGTERM, want 0\n%s", code, proxy.stderr)
	}
}

// TestTLSProxyCommandUsage: missing flags and unreadable files are usage
// errors (exit 2) that name them.
func TestTLSProxyCommandUsage(t *testing.T) {
	_, certFile, keyFile := proxyCerts(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-listen", "127.0.0.1:0"}, "missing -to, -cert, -key"},
		{[]string{"-listen", "127.0.0.1", "-to", "127.0.0.1:4730", "-cert", certFile, "-key", keyFile}, `-listen "127.0.0.1": want host:port`},
		{[]string{"-listen", "127.0.0.1:0", "-to", "127.0.0.1:4730", "-cert", "/nonexistent.pem", "-key", keyFile}, "/nonexistent.pem"},
		{[]string{"-listen", "127.0.0.1:0", "-to", "127.0.0.1:4730", "-cert", certFile, "-key", keyFile, "-client-ca", "/no/ca.pem"}, "/no/ca.pem"},
	} {
		code, _, stderr := runCLI(t, append([]string{"tls-proxy"}, tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("tls-proxy %v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestLocalCommandTLS: "glimpse-cluster local -tls" prints a config with
// tls on and the throwaway CA; a map, status and ping through it work.
func TestLocalCommandTLS(t *testing.T) {
	ctx := testenv.Context(t)
	t.Setenv(config.EnvVar, "")
	p := startProc(t, "local", "-n", "1", "-tls")
	out := printedConfig(t, ctx, p, "tls_ca_file")
	path := filepath.Join(t.TempDir(), "local.ini")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(path)
	if err != nil {
		t.Fatalf("the printed config: %v\n%s", err, out)
	}
	if !f.Client.TLS || !strings.Contains(out, "behind a TLS proxy") {
		t.Fatalf("printed config without TLS:\n%s", out)
	}
	pl, err := pool.New(f.Client)
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	checkSquares(t, ctx, pl)
	if code, stdout, stderr := runCLI(t, "-c", path, "status"); code != exitOK || !strings.Contains(stdout, "examples.square") {
		t.Errorf("status: exit %d\n%s%s", code, stdout, stderr)
	}
	if ids, code := pingIDs(t, path); code != exitOK || len(ids) != 1 {
		t.Errorf("ping: exit %d, workers %v; want the local worker", code, ids)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, ctx); code != exitOK {
		t.Errorf("local -tls exit %d after SIGTERM\n%s", code, p.stderr)
	}
}

// TestLocalCommandKey: local -key runs a keyed cluster and prints a
// config naming its key; saved 0600 it works for maps, status and ping,
// saved world-readable it is refused, as the key asks.
func TestLocalCommandKey(t *testing.T) {
	ctx := testenv.Context(t)
	t.Setenv(config.EnvVar, "")
	p := startProc(t, "local", "-n", "1", "-key")
	out := printedConfig(t, ctx, p, "key_file")
	dir := t.TempDir()
	private, open := filepath.Join(dir, "local.ini"), filepath.Join(dir, "readable.ini")
	os.WriteFile(private, []byte(out), 0o600)
	os.WriteFile(open, []byte(out), 0o644)
	os.Chmod(open, 0o644)
	if _, err := config.Load(open); err == nil || !strings.Contains(err.Error(), "others may read") {
		t.Errorf("a world-readable copy of the keyed config loaded: %v", err)
	}
	f, err := config.Load(private)
	if err != nil || f.Client.KeyFile == "" {
		t.Fatalf("the printed config: %v (key_file %q)\n%s", err, f.Client.KeyFile, out)
	}
	pl, err := pool.New(f.Client)
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	checkSquares(t, ctx, pl)
	if ids, code := pingIDs(t, private); code != exitOK || len(ids) != 1 {
		t.Errorf("ping: exit %d, workers %v; want the local worker", code, ids)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, ctx); code != exitOK {
		t.Errorf("local -key exit %d after SIGTERM\n%s", code, p.stderr)
	}
	if _, err := os.Stat(f.Client.KeyFile); !os.IsNotExist(err) {
		t.Errorf("the local cluster's key %s is left behind: %v", f.Client.KeyFile, err)
	}
}

// printedConfig waits for local's printed config to reach the line of
// key, and returns it.
func printedConfig(t *testing.T, ctx context.Context, p *proc, key string) string {
	t.Helper()
	return p.stdout.Wait(t, ctx, "the printed config with "+key, func(s string) bool {
		_, rest, ok := strings.Cut(s, key+" = ")
		return ok && strings.Contains(rest, "\n")
	}, p.done)
}
