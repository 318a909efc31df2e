package main

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRender writes a report from figures of every program and checks
// that each section has its table and a PNG that decodes, and that a
// program without figures is reported as not measured.
func TestRender(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, v any) {
		t.Helper()
		if err := benchjson.Write(filepath.Join(dir, name+".json"), v); err != nil {
			t.Fatal(err)
		}
	}
	write("gearman", benchjson.Gearman{Jobs: 1000, PayloadBytes: 16, Window: 100, Rounds: 1, Rows: []benchjson.GearmanRow{
		{Workers: 1, GoConcurrency: 8, GoJobsPerS: 50000, CJobsPerS: 20000, Ratio: 2.5},
		{Workers: 2, GoConcurrency: 8, GoJobsPerS: 60000, CJobsPerS: 25000, Ratio: 2.4},
	}})
	write("pool", benchjson.Pool{Slots: 2, GOMAXPROCS: 2, Rounds: 1, Items: 1000, Chunks: []benchjson.PoolChunk{
		{Chunksize: 0, ChunkItems: 125, ItemsPerS: 4e6}, {Chunksize: 1000, ItemsPerS: 3e6},
	}, CPUBound: benchjson.PoolCPU{Items: 100, ItemCostNs: 1e6, Goroutines: 2, InProcessItemsPerS: 1900, MapItemsPerS: 1800, Efficiency: 1800.0 / 1900}})
	write("imap", benchjson.Imap{Workers: 2, Slots: 1, Rows: []benchjson.ImapRow{
		{Items: 1_000_000, PeakRSSKiB: 20 << 10, LiveAfterKiB: 1 << 10},
		{Items: 10_000_000, PeakRSSKiB: 22 << 10, LiveAfterKiB: 1 << 10},
	}})
	write("ping", benchjson.Ping{Pings: 3, Rows: []benchjson.PingRow{
		{Workers: 10, Via: "fanout", MedianMs: 2, P90Ms: 3, MaxMs: 4}, {Workers: 10, Via: "zmq", MedianMs: 1, P90Ms: 2, MaxMs: 3},
		{Workers: 50, Via: "fanout", MedianMs: 10, P90Ms: 13, MaxMs: 14}, {Workers: 50, Via: "zmq", MedianMs: 9, P90Ms: 11, MaxMs: 12},
	}})
	// No recovery.json: that program "failed".
	meta := Meta{Command: "make bench", Started: time.Now(), Finished: time.Now().Add(time.Minute), Commit: "abc1234",
		Steps: []step{{Name: "recovery", Args: []string{"bin/recovery"}, Error: "exit status 1"}}}
	if err := render(dir, meta); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	report := string(data)
	for _, want := range []string{
		"| commit | abc1234 |",
		"| 1 | 50,000 | 20,000 | 2.50 |",
		"| auto (125) | 4,000,000 |",
		"**94.7%**",
		"1M -> 10M items: x1.10",
		"| 50 | 10.0 | 13.0 | 14.0 | 9.0 | 11.0 | 12.0 |",
		"**Not measured**: the program failed: exit status 1",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("REPORT.md lacks %q:\n%s", want, report)
		}
	}
	for _, name := range []string{"gearman", "pool", "imap", "ping"} {
		f, err := os.Open(filepath.Join(dir, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s.png: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 300 {
			t.Errorf("%s.png is only %dx%d", name, b.Dx(), b.Dy())
		}
		if !strings.Contains(report, "]("+name+".png)") {
			t.Errorf("REPORT.md does not show %s.png", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "recovery.png")); err == nil {
		t.Error("recovery.png was drawn without figures")
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", -12345: "-12,345"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestShellJoin(t *testing.T) {
	got := shellJoin([]string{"bin/x", "-items", "1,2", "it's", ""})
	want := `bin/x -items 1,2 'it'\''s' ''`
	if got != want {
		t.Errorf("shellJoin = %s, want %s", got, want)
	}
}
