package scalemodel

import (
	"errors"
	"math"
	"testing"
)

// costs: client 20 µs, gearmand 10 µs (busiest thread 8 µs), worker
// 30 µs, 1 kB per job.
var costs = Costs{Client: 20e-6, Server: 10e-6, ServerThread: 8e-6, Worker: 30e-6, Bytes: 1000}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestThroughputPicksTheSmallestLimit(t *testing.T) {
	r := Resources{ClientCores: 1, WorkerCores: 8, Servers: 2, ServerCores: 4, Bandwidth: 125e6}
	best, all, err := Throughput(costs, r)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"client CPU":              1 / 20e-6,       // 50,000
		"gearmand CPU":            8 / 10e-6,       // 800,000
		"gearmand busiest thread": 2 / 8e-6,        // 250,000
		"worker CPU":              8 / 30e-6,       // 266,667
		"network":                 2 * 125e6 / 1e3, // 250,000
		"shared CPU":              math.Inf(1),
	}
	if len(all) != len(want) {
		t.Fatalf("%d limits, want %d: %v", len(all), len(want), all)
	}
	for _, l := range all {
		if w, ok := want[l.Resource]; !ok || !(near(l.JobsPerS, w) || math.IsInf(w, 1) && math.IsInf(l.JobsPerS, 1)) {
			t.Errorf("%s: %v jobs/s, want %v", l.Resource, l.JobsPerS, w)
		}
	}
	if best.Resource != "client CPU" || !near(best.JobsPerS, 50000) {
		t.Errorf("best %+v, want client CPU at 50000", best)
	}
}

// On one shared machine every role draws from the same cores: the rate is
// the cores over the sum of the per-job costs.
func TestThroughputSharedCores(t *testing.T) {
	best, _, err := Throughput(costs, Resources{Servers: 2, SharedCores: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 / 60e-6; best.Resource != "shared CPU" || !near(best.JobsPerS, want) {
		t.Errorf("best %+v, want shared CPU at %v", best, want)
	}
}

// A second job server doubles the gearmand limits.
func TestThroughputServersScaleGearmand(t *testing.T) {
	one, _, _ := Throughput(costs, Resources{Servers: 1, ServerCores: 1})
	two, _, _ := Throughput(costs, Resources{Servers: 2, ServerCores: 1})
	if one.Resource != "gearmand CPU" || !near(two.JobsPerS, 2*one.JobsPerS) {
		t.Errorf("one server %+v, two %+v", one, two)
	}
}

func TestJobs(t *testing.T) {
	if j, err := Jobs(1e6, 1000); err != nil || j != 1000 {
		t.Errorf("Jobs(1e6, 1000) = %v, %v", j, err)
	}
	if _, err := Jobs(10, 0); !errors.Is(err, ErrBadInput) {
		t.Errorf("chunk 0: %v, want ErrBadInput", err)
	}
}

func TestSize(t *testing.T) {
	// 100,000 jobs/s of 1 ms work each, job servers of 2 cores at 50%:
	// a job server carries min(2/10e-6, 1/8e-6) = 125,000 jobs/s, so
	// 62,500 planned; 100,000 needs 2.
	p, err := Size(costs, 1e5, 1e-3, ServerHost{Cores: 2}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if !near(p.ClientCores, 2) || !near(p.ServerCores, 1) || !near(p.WorkerCores, 103) || p.Servers != 2 ||
		p.ServerLimit != "gearmand busiest thread" {
		t.Errorf("plan %+v, want client 2, gearmand 1, workers 103 cores, 2 servers held by the busiest thread", p)
	}
	// Exactly at the ceiling: one server, not two.
	if p, _ := Size(costs, 125000, 0, ServerHost{Cores: 2}, 1); p.Servers != 1 {
		t.Errorf("at the ceiling: %d servers, want 1", p.Servers)
	}
	// 1 kB a job over 10 MB/s: 10,000 jobs/s a server; 25,000 need 3.
	if p, _ := Size(costs, 25000, 0, ServerHost{Cores: 8, Bandwidth: 10e6}, 1); p.Servers != 3 || p.ServerLimit != "network" {
		t.Errorf("network-bound plan %+v, want 3 servers held by the network", p)
	}
}

func TestBadInput(t *testing.T) {
	for name, f := range map[string]func() error{
		"no servers":    func() error { _, _, err := Throughput(costs, Resources{}); return err },
		"negative cost": func() error { _, _, err := Throughput(Costs{Client: -1}, Resources{Servers: 1}); return err },
		"thread over total": func() error {
			_, _, err := Throughput(Costs{Server: 1, ServerThread: 2}, Resources{Servers: 1})
			return err
		},
		"NaN":           func() error { _, err := Size(Costs{Worker: math.NaN()}, 1, 0, ServerHost{Cores: 1}, 1); return err },
		"utilisation 0": func() error { _, err := Size(costs, 1, 0, ServerHost{Cores: 1}, 0); return err },
	} {
		if err := f(); !errors.Is(err, ErrBadInput) {
			t.Errorf("%s: %v, want ErrBadInput", name, err)
		}
	}
}

func TestBetween(t *testing.T) {
	one := Costs{Client: 10, Server: 4, ServerThread: 2, Worker: 10, Bytes: 100}
	thousand := Costs{Client: 1009, Server: 4, ServerThread: 4, Worker: 1009, Bytes: 8092}
	c, err := Between(one, 1, thousand, 1000, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := Costs{Client: 109, Server: 4, ServerThread: 2.198198198198198, Worker: 109, Bytes: 100 + 99*8}
	for _, p := range [][2]float64{{c.Client, want.Client}, {c.Server, want.Server}, {c.ServerThread, want.ServerThread},
		{c.Worker, want.Worker}, {c.Bytes, want.Bytes}} {
		if !near(p[0], p[1]) {
			t.Errorf("Between(…, 100) = %+v, want %+v", c, want)
			break
		}
	}
	if _, err := Between(one, 5, thousand, 5, 3); !errors.Is(err, ErrBadInput) {
		t.Errorf("na == nb: %v, want ErrBadInput", err)
	}
}
