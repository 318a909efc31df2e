package cluster

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// TestStartLocalTLS: a local cluster started with TLS serves gearmand
// through a TLS proxy: its Config names the proxy, with tls on and the
// throwaway CA; the worker and the fanout worker connect over TLS (a map
// returns the right values, a ping through the fanout finds the worker);
// another program's pool made from Config maps too, while a plaintext
// one is refused; Close stops the proxy and removes the CA file.
func TestStartLocalTLS(t *testing.T) {
	ctx := testenv.Context(t)
	l, err := StartLocalWith(ctx, LocalConfig{Worker: config.Worker{Slots: 2}, Log: io.Discard, TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := l.Config()
	if !cfg.TLS || len(cfg.JobServers) != 1 || cfg.JobServers[0] != l.proxy.Addr() || cfg.JobServers[0] == l.gd.Addr() ||
		filepath.Dir(cfg.TLSCAFile) != l.dir {
		t.Fatalf("Config() = %+v; want tls on, the proxy %s and the CA in %s", cfg, l.proxy.Addr(), l.dir)
	}
	checkSquares(t, ctx, l.Pool())
	stats, err := l.Pool().Ping(ctx)
	if err != nil || len(stats) != 1 || stats[0].WorkerID != l.Worker().ID() {
		t.Fatalf("Ping over TLS = %+v, %v; want the local worker", stats, err)
	}

	other, err := pool.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkSquares(t, ctx, other)
	other.Close()
	plain := cfg
	plain.TLS, plain.TLSCAFile = false, ""
	if p, err := pool.New(plain); !errors.Is(err, gearman.ErrTLSRequired) {
		if err == nil {
			p.Close()
		}
		t.Fatalf("plaintext pool on the TLS port: %v; want ErrTLSRequired", err)
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", cfg.JobServers[0], time.Second); err == nil {
		c.Close()
		t.Error("the TLS proxy still accepts after Close")
	}
	if _, err := os.Stat(cfg.TLSCAFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("CA file after Close: %v; want it gone", err)
	}
}
