package main

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStatCPU(t *testing.T) {
	dir := t.TempDir()
	// A command name with a space and a ')' in it: fields count from the
	// last ')'. utime 250 and stime 150 ticks.
	good := filepath.Join(dir, "stat")
	os.WriteFile(good, []byte("1234 (odd) name) S 1 2 3 4 5 6 7 8 9 10 250 150 0 0 20 0 1\n"), 0o644)
	if got, err := statCPU(good); err != nil || got != 4*time.Second {
		t.Errorf("statCPU = %v, %v; want 4s", got, err)
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("1 (x) S 1 2\n"), 0o644)
	if _, err := statCPU(short); err == nil {
		t.Error("a short stat line: no error")
	}
	if self, err := procCPU(os.Getpid()); err != nil || self < 0 {
		t.Errorf("procCPU(self) = %v, %v", self, err)
	}
}

func TestSSBytes(t *testing.T) {
	out := "0 0 127.0.0.1:4730 127.0.0.1:5000\n\t cubic wscale:7,7 rto:204 bytes_sent:1200 bytes_acked:1200 bytes_received:345 segs_out:9\n" +
		"0 0 127.0.0.1:4730 127.0.0.1:5001\n\t cubic bytes_sent:55 bytes_received:45\n"
	if got, err := ssBytes(out); err != nil || got != 1200+345+55+45 {
		t.Errorf("ssBytes = %d, %v; want 1645", got, err)
	}
	if _, err := ssBytes("bytes_sent:x"); err == nil {
		t.Error("a malformed count: no error")
	}
}

// diff turns two snapshots of 100 jobs into per-job figures; a thread
// shown a tick above its process is cut to the process.
func TestDiff(t *testing.T) {
	ms := time.Millisecond
	a := snapshot{at: time.Unix(0, 0), client: 0, servers: []time.Duration{0, 0},
		threads: []map[string]time.Duration{{"1": 0, "2": 0}, {"3": 0}}, io: []int64{0, 0},
		workers: []time.Duration{0, 0}, machine: 0}
	b := snapshot{at: time.Unix(2, 0), client: 10 * ms, servers: []time.Duration{30 * ms, 10 * ms},
		threads: []map[string]time.Duration{{"1": 20 * ms, "2": 10 * ms}, {"3": 20 * ms}}, io: []int64{600, 400},
		workers: []time.Duration{20 * ms, 20 * ms}, machine: 3 * time.Second}
	r := diff(workloads[0], 100, a, b)
	near := func(x, y float64) bool { return math.Abs(x-y) < 1e-9 }
	if !near(r.JobsPerS, 50) || !near(r.ClientUs, 100) || !near(r.GearmandUs, 400) || !near(r.WorkerUs, 400) {
		t.Errorf("rates: %+v", r)
	}
	if !near(r.ThreadUs, 300) { // 20 ms + min(20 ms, 10 ms), over 100 jobs
		t.Errorf("busiest threads %v us per job, want 300", r.ThreadUs)
	}
	if !near(r.BytesPerJob, 10) || len(r.ServerShare) != 2 || !near(r.ServerShare[0], 0.75) {
		t.Errorf("bytes %v, shares %v", r.BytesPerJob, r.ServerShare)
	}
	if !near(r.OurCores, 0.045) || !near(r.MachineCores, 1.5) {
		t.Errorf("cores: ours %v, machine %v", r.OurCores, r.MachineCores)
	}
}

// compare predicts from the loopback row of the same case, 2 servers and
// the same -t: the shared-CPU limit, and gearmand's share.
func TestCompare(t *testing.T) {
	loop := []Result{
		{Case: "1-item", Servers: 1, GearmandThreads: 2, ClientUs: 1000, GearmandUs: 1000, ThreadUs: 1, WorkerUs: 1000},
		{Case: "1-item", Servers: 2, GearmandThreads: 2, ClientUs: 40, GearmandUs: 20, ThreadUs: 10, WorkerUs: 40},
	}
	measured := []Result{{Case: "1-item", Servers: 2, ClientUs: 50, GearmandUs: 25, WorkerUs: 25, OurCores: 1}}
	chk := compare("p", measured, loop, flags{netnsThreads: 2})
	row := chk.Rows[0]
	if want := float64(cpus()) / 100e-6; math.Abs(row.PredictedJobsPerS-want) > 1e-6 || row.PredictedLimit != "shared CPU" {
		t.Errorf("predicted %v (%s), want %v (shared CPU)", row.PredictedJobsPerS, row.PredictedLimit, want)
	}
	if math.Abs(row.PredictedAtOurCores-1e4) > 1e-6 || math.Abs(row.PredictedGearmandShare-0.2) > 1e-9 || math.Abs(row.MeasuredGearmandShare-0.25) > 1e-9 {
		t.Errorf("row %+v", row)
	}
}
