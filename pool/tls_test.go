package pool_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/certs"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// workerCAEnv makes a worker process (workerEnv) connect over TLS,
// trusting the CA certificate in the file it names.
const workerCAEnv = "POOL_TEST_WORKER_CA"

// workerTLS is the worker process's WithTLS, from workerCAEnv.
func workerTLS() ([]gearman.WorkerOption, error) {
	caFile := os.Getenv(workerCAEnv)
	if caFile == "" {
		return nil, nil
	}
	conf, err := config.Client{JobServers: []string{"unused:1"}, TLS: true, TLSCAFile: caFile}.TLSConfig()
	if err != nil {
		return nil, err
	}
	return []gearman.WorkerOption{gearman.WithTLS(conf)}, nil
}

// TestMapOverTLS: with gearmand behind a TLS proxy, a worker process and
// a pool configured with tls = true and the proxy's CA run a map whose
// every value is right; the admin questions of the pool (its slot count)
// go over TLS too.
func TestMapOverTLS(t *testing.T) {
	srv := testenv.TLSGearmand(t, "--verbose=ERROR")
	startWorkerProcessEnv(t, []string{workerCAEnv + "=" + srv.CAFile}, 2, srv.Addr())
	p, err := pool.New(config.Client{JobServers: []string{srv.Addr()}, TLS: true, TLSCAFile: srv.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitSlots(t, p, funcs.Square.Name(), 2)
	ctx := testenv.Context(t)
	items := ints(1000)
	out, err := pool.Map(ctx, p, funcs.Square, items, pool.Chunksize(7))
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range items {
		if out[i] != x*x {
			t.Fatalf("out[%d] = %d, want %d", i, out[i], x*x)
		}
	}
}

// TestPoolTLSRefusals: a pool that trusts another CA, or that speaks
// plaintext to the TLS port, fails at New with an error that says so,
// instead of hanging or failing later.
func TestPoolTLSRefusals(t *testing.T) {
	srv := testenv.TLSGearmand(t, "--verbose=ERROR")
	other, err := certs.NewCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	otherFile, err := other.WriteCA(t.TempDir(), "other.pem")
	if err != nil {
		t.Fatal(err)
	}
	err = testenv.ReturnsWithin(t, "pool.New with the wrong CA", returnLimit, func() error {
		return newPoolErr(config.Client{JobServers: []string{srv.Addr()}, TLS: true, TLSCAFile: otherFile})
	})
	var te *gearman.TLSError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("wrong CA: err = %v; want a *gearman.TLSError about the unknown authority", err)
	}
	err = testenv.ReturnsWithin(t, "pool.New in plaintext", returnLimit, func() error {
		return newPoolErr(config.Client{JobServers: []string{srv.Addr()}})
	})
	if !errors.Is(err, gearman.ErrTLSRequired) {
		t.Errorf("plaintext: err = %v; want ErrTLSRequired", err)
	}
}

func newPoolErr(cfg config.Client) error {
	p, err := pool.New(cfg)
	if err == nil {
		p.Close()
	}
	return err
}
