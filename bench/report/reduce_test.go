package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

// TestRenderReduce: the map/reduce section has its sum and word count
// tables, after the peers.
func TestRenderReduce(t *testing.T) {
	dir := t.TempDir()
	err := benchjson.Write(filepath.Join(dir, "reduce.json"), benchjson.Reduce{Workers: 2, Slots: 1, Rounds: 3,
		Items: 100_000_000, SumItemsPerS: 5e7, SumRoundsPerS: []float64{5e7}, SumChunks: 215, SumClientBytes: 20000,
		SumCPUms: benchjson.CPUms{Client: 700, Workers: 2000, Gearmand: 300}, CorpusBytes: 9_400_000,
		WordCounts: []benchjson.WordCountRow{{Items: "lines", Count: 268115, KeyedItemsPerS: 540000, ImapItemsPerS: 135000, Speedup: 4,
			KeyedClientBytes: 2e6, ImapClientBytes: 8e6, KeyedCPUms: benchjson.CPUms{Client: 20, Workers: 100, Gearmand: 5},
			ImapCPUms: benchjson.CPUms{Client: 150, Workers: 300, Gearmand: 25}}}})
	if err != nil {
		t.Fatal(err)
	}
	meta := Meta{Command: "make bench", Started: time.Now(), Finished: time.Now().Add(time.Minute)}
	if err := render(dir, meta); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	report := string(data)
	for _, want := range []string{
		"## 10. pool.Reduce: map/reduce on the workers",
		"| auto (215) | 50,000,000 | 20,000 | 700 / 2000 / 300 |",
		"| 268,115 lines | ReduceByKeySeq | 540,000 | **4.00x** | 3.80x | 2,000,000 |",
		"- reduce: [reduce.json](reduce.json)",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("REPORT.md lacks %q:\n%s", want, report)
		}
	}
}
