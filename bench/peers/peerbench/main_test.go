package main

import (
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
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
