package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/cluster"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestReadPeer reads a peer script's lines as common.py prints them: its
// name and version, a failed set-up, and the workloads it got to, one of
// them failed; a line it does not know is skipped.
func TestReadPeer(t *testing.T) {
	lines := strings.Join([]string{
		`PEER {"name": "Dask", "version": "distributed 2022.12.1", "pid": 1}`,
		`SETUP {"seconds": 0.5}`,
		`RESULT {"workload": "trivial_10000", "how": "client.map", "items": 10000, "value": 50000.5, "rounds": [50000.5]}`,
		`something else`,
		`RESULT {"workload": "cpu", "how": "client.map", "value": 900, "serial": 500, "efficiency": 0.9}`,
		`RESULT {"workload": "large", "how": "client.map", "error": "did not finish within 60 s", "seconds": 60}`,
	}, "\n")
	run := benchjson.PeerRun{Name: "dask"}
	readPeer(strings.NewReader(lines), &run)
	if run.Name != "Dask" || run.Version != "distributed 2022.12.1" || run.SetupS != 0.5 || run.Error != "" {
		t.Errorf("run = %+v", run)
	}
	if len(run.Results) != 3 {
		t.Fatalf("%d results, want 3: %+v", len(run.Results), run.Results)
	}
	if r, ok := run.Result("trivial_10000"); !ok || r.Value != 50000.5 || r.Items != 10000 {
		t.Errorf("trivial_10000 = %+v, %v", r, ok)
	}
	if r, _ := run.Result(benchjson.PeerCPU); r.Efficiency != 0.9 || r.Serial != 500 {
		t.Errorf("cpu = %+v", r)
	}
	if r, _ := run.Result(benchjson.PeerLarge); r.Error != "did not finish within 60 s" {
		t.Errorf("large = %+v", r)
	}

	failed := benchjson.PeerRun{Name: "celery"}
	readPeer(strings.NewReader(`PEER {"name": "Celery", "version": "celery 5.2.6"}`+"\n"+`SETUP {"error": "RuntimeError: celery worker exited with status 1"}`), &failed)
	if failed.Error != "set-up failed: RuntimeError: celery worker exited with status 1" || len(failed.Results) != 0 {
		t.Errorf("failed set-up = %+v", failed)
	}
}

// TestGlimpseCPUPairsBareRounds runs the CPU-bound workload on a local
// cluster of 2 slots: each round of the pool sits between two rounds of
// the bare reference (2 goroutines, no pool), the efficiency is the
// median of the rounds' ratios to them, not a ratio to a serial rate
// measured once, and the serial item's CPU time is recorded. A round
// budget already spent still gives 3 rounds.
func TestGlimpseCPUPairsBareRounds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	s := settings{workers: 2, rounds: 5, roundBudget: time.Nanosecond, cost: time.Millisecond}
	s.CPUItems = 80 // a serial sample of 20 ms of CPU, which the thread's CPU clock resolves
	r, err := glimpseWork{p: local.Pool(), s: s}.cpu(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkPaired(t, r, minPairedRounds)
}

// TestPythonCPUPairsBareRounds runs common.py's CPU-bound workload with a
// stand-in pool that counts in the driver: the bare reference runs in 2
// forked processes whose counts come back right (else the workload
// raises), around each pool round as on the Go side.
func TestPythonCPUPairsBareRounds(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	script := `
import json, types, common, tasks
args = types.SimpleNamespace(workers=2, cost_ms=0.2, cpu_items=40, rounds=5, round_budget=0)
class Driver:
    def map_cpu(self, rs): return [tasks.count_primes(r) for r in rs]
print(json.dumps(common.cpu(args, Driver())))
`
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", "-c", script)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("common.cpu: %v", err)
	}
	var r benchjson.PeerResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	checkPaired(t, r, 3)
}

// checkPaired checks a CPU-bound result: rounds of the pool and of the
// bare reference in pairs, their medians, and the efficiency as the
// median of the pairs' ratios.
func checkPaired(t *testing.T, r benchjson.PeerResult, rounds int) {
	t.Helper()
	if len(r.Rounds) != rounds || len(r.BareRounds) != rounds+1 {
		t.Fatalf("%d pool rounds and %d bare rounds, want %d and one more: %+v", len(r.Rounds), len(r.BareRounds), rounds, r)
	}
	ratios := make([]float64, rounds)
	for i := range ratios {
		ratios[i] = pairedRatio(r.Rounds[i], r.BareRounds[i], r.BareRounds[i+1])
	}
	if r.Value != median(r.Rounds) || r.Bare != median(r.BareRounds) || r.Efficiency != median(ratios) {
		t.Errorf("value %v, bare %v, efficiency %v; want the medians %v, %v, %v", r.Value, r.Bare, r.Efficiency,
			median(r.Rounds), median(r.BareRounds), median(ratios))
	}
	if r.Serial <= 0 || r.SerialCPUMs <= 0 || r.BareHow == "" {
		t.Errorf("serial %v items/s, %v CPU ms per item, bare how %q: want all set", r.Serial, r.SerialCPUMs, r.BareHow)
	}
}
