package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// busyMap keeps a worker's CPU busy with examples.countprimes until ctx
// ends, and returns a channel closed once it has stopped.
func busyMap(t *testing.T, ctx context.Context, addr string) <-chan struct{} {
	t.Helper()
	pl, err := pool.New(config.Client{JobServers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer pl.Close()
		for ctx.Err() == nil {
			pool.Map(ctx, pl, funcs.CountPrimes, []funcs.Range{{Lo: 0, Hi: 200_000}, {Lo: 200_000, Hi: 400_000}})
		}
	}()
	return done
}

// wantProfile checks that data is a gzipped pprof profile (a protocol
// buffer whose string table names functions) that names a function of
// the package examples/funcs, the code the worker was busy with.
func wantProfile(t *testing.T, what string, data []byte) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %d bytes, not gzip: %v", what, len(data), err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !bytes.Contains(raw, []byte("glimpse-go/glimpse/examples/funcs.")) {
		t.Fatalf("%s: %d bytes of profile, none naming a function of examples/funcs", what, len(raw))
	}
}

// TestWorkerPprof runs "glimpse-cluster worker -metrics ADDR -pprof" as a
// process and takes a CPU profile of it over HTTP while it counts primes:
// a gzipped profile naming the function it ran. Without -pprof the
// endpoint serves no profiles.
func TestWorkerPprof(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	cfg := writeConfig(t, []string{srv.Addr()})
	addr, _ := metricsURL(t)
	p := startProc(t, "-c", cfg, "worker", "-n", "1", "-metrics", addr, "-pprof")
	p.stderr.WaitFor(t, ctx, "serving metrics", p.done)
	waitWorker(t, ctx, srv.Addr(), exampleGearmanNames...)

	busyCtx, stopBusy := context.WithCancel(ctx)
	busy := busyMap(t, busyCtx, srv.Addr())
	cpu := []byte(scrape(t, ctx, "http://"+addr+"/debug/pprof/profile?seconds=1"))
	stopBusy()
	<-busy
	wantProfile(t, "CPU profile", cpu)
	heap := []byte(scrape(t, ctx, "http://"+addr+"/debug/pprof/heap"))
	if _, err := gzip.NewReader(bytes.NewReader(heap)); err != nil {
		t.Errorf("heap profile: %d bytes, not gzip: %v", len(heap), err)
	}
	stopsWithin(t, ctx, p, 5*time.Second, addr)

	// The same worker without -pprof: metrics, and no profiles.
	p = startProc(t, "-c", cfg, "worker", "-n", "1", "-metrics", addr)
	p.stderr.WaitFor(t, ctx, "serving metrics", p.done)
	resp, err := http.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/debug/pprof/ without -pprof: %s, want 404", resp.Status)
	}
	stopsWithin(t, ctx, p, 5*time.Second, addr)
}

// TestWorkerCPUProfile runs "glimpse-cluster worker -cpuprofile FILE",
// keeps it busy, stops it with SIGTERM: the file is a CPU profile naming
// the function it ran.
func TestWorkerCPUProfile(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	cfg := writeConfig(t, []string{srv.Addr()})
	file := filepath.Join(t.TempDir(), "worker.pprof")
	p := startProc(t, "-c", cfg, "worker", "-n", "1", "-cpuprofile", file)
	waitWorker(t, ctx, srv.Addr(), exampleGearmanNames...)

	busyCtx, stopBusy := context.WithTimeout(ctx, time.Second)
	defer stopBusy()
	<-busyMap(t, busyCtx, srv.Addr())
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, ctx); code != exitOK {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	wantProfile(t, "-cpuprofile's file", data)
}

// TestWorkerProfileFlagErrors: -pprof with no metrics endpoint, and a
// -cpuprofile file that cannot be made, are errors naming the flag.
func TestWorkerProfileFlagErrors(t *testing.T) {
	cfg := writeConfig(t, []string{"127.0.0.1:4730"})
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-c", cfg, "worker", "-pprof"}, exitUsage, "-pprof serves the profiles on the metrics endpoint: give -metrics ADDR"},
		{[]string{"-c", cfg, "worker", "-cpuprofile", filepath.Join(t.TempDir(), "no", "such", "dir")}, exitFailure, "-cpuprofile: open"},
	} {
		t.Run(strings.Join(tc.args[2:], " "), func(t *testing.T) {
			var stdout, stderr strings.Builder
			if code := run(context.Background(), append([]string{"glimpse-cluster"}, tc.args...), &stdout, &stderr, nil); code != tc.code {
				t.Errorf("exit status %d, want %d", code, tc.code)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.want)
			}
		})
	}
}
