package benchjson

// Peers is peerbench's output: the same workloads run by glimpse-go, by
// a bare gearman.Client+Worker echo pair (the floor: what a Gearman job
// costs with nothing on top) and by the Python pools a user would pick
// instead, in one run on one machine.
type Peers struct {
	Workers int       `json:"workers"` // slots / worker processes of every pool
	Rounds  int       `json:"rounds"`  // of each throughput workload, at most; the median is reported
	Sizes   PeerSizes `json:"sizes"`
	Runs    []PeerRun `json:"runs"` // glimpse-go first, then the floor, then the peers
}

// PeerSizes are the workloads' sizes, the same for everyone.
type PeerSizes struct {
	Trivial      []int `json:"trivial"` // items of each trivial map (x*x)
	CPUItems     int   `json:"cpu_items"`
	CPUCostNs    int64 `json:"cpu_cost_ns"` // of one item, calibrated in each pool's own language
	LatencyCalls int   `json:"latency_calls"`
	LargeItems   int   `json:"large_items"`
	LargeBytes   int   `json:"large_bytes"` // of each item
	Concurrent   int   `json:"concurrent"`  // single calls in flight at once
	OneByOne     int   `json:"one_by_one"`  // items of the trivial map sent one item per task
}

// The workload names of PeerResult; trivial maps are "trivial_N".
const (
	PeerCPU        = "cpu"
	PeerLatency    = "latency"
	PeerLarge      = "large"
	PeerConcurrent = "concurrent"
	PeerOneByOne   = "one_by_one" // the trivial map, one item per task (chunks of one)
)

// PeerRun is one pool's figures. Error says why it has none (a package
// missing, a set-up that failed or timed out).
type PeerRun struct {
	Name    string       `json:"name"`
	Version string       `json:"version,omitempty"`
	Error   string       `json:"error,omitempty"`
	SetupS  float64      `json:"setup_s,omitempty"`
	Results []PeerResult `json:"results,omitempty"`
}

// PeerResult is one workload of one pool. Value is, by workload: items/s
// (trivial_N, cpu, one_by_one), the p50 in milliseconds (latency), MB/s of items sent
// (large, 1 MB = 10^6 bytes) or calls/s (concurrent).
type PeerResult struct {
	Workload string    `json:"workload"`
	How      string    `json:"how,omitempty"` // the API the pool used
	Items    int       `json:"items,omitempty"`
	Value    float64   `json:"value,omitempty"`
	Rounds   []float64 `json:"rounds,omitempty"` // every round's figure, in order
	// The CPU-bound workload's references, measured by the driver
	// process itself in the pool's language: Serial, items/s of every
	// 4th item one after another on one thread (SerialCPUMs: the thread's
	// CPU ms per item, which other load on the machine does not stretch);
	// Bare, items/s of the same items dealt over Workers threads or
	// processes with no pool (BareHow says which), one round of it
	// before the pool's first round and one after each (BareRounds, one
	// more than Rounds). Efficiency is the median over the pool's rounds
	// of its items/s over the bare rate of the mean time of the bare
	// rounds before and after it.
	Serial      float64   `json:"serial,omitempty"`
	SerialCPUMs float64   `json:"serial_cpu_ms,omitempty"`
	Bare        float64   `json:"bare,omitempty"`
	BareHow     string    `json:"bare_how,omitempty"`
	BareRounds  []float64 `json:"bare_rounds,omitempty"`
	Efficiency  float64   `json:"efficiency,omitempty"`
	P90         float64   `json:"p90,omitempty"`     // latency: ms
	Seconds     float64   `json:"seconds,omitempty"` // the whole workload took
	Error       string    `json:"error,omitempty"`
}

// Result is the figure of workload w, if r has one.
func (r PeerRun) Result(w string) (PeerResult, bool) {
	for _, x := range r.Results {
		if x.Workload == w {
			return x, true
		}
	}
	return PeerResult{}, false
}
