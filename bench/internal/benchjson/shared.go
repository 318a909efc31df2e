package benchjson

// Shared is sharedvalue's output: a map of small items whose function
// takes a shared value, next to the same map of a function without one,
// in the same run.
type Shared struct {
	Items       int `json:"items"`
	SharedBytes int `json:"shared_bytes"`
	Workers     int `json:"workers"`
	Slots       int `json:"slots"`
	Rounds      int `json:"rounds"` // cold maps, one per round
	Pairs       int `json:"pairs"`  // plain and warm maps per round

	// Every map's wall time, in milliseconds: the map without a shared
	// value (examples.square), the first map of a new shared value (the
	// client encodes and hashes it; each worker asks for it, gets one
	// copy and decodes it) and a later map of the same value (the
	// workers hold it: chunks carry its hash only).
	PlainMs []float64 `json:"plain_ms"`
	ColdMs  []float64 `json:"cold_ms"`
	WarmMs  []float64 `json:"warm_ms"`

	// Their medians, and the ratios of the medians.
	PlainMedianMs float64 `json:"plain_median_ms"`
	ColdMedianMs  float64 `json:"cold_median_ms"`
	WarmMedianMs  float64 `json:"warm_median_ms"`
	WarmRatio     float64 `json:"warm_ratio"` // warm / plain
	ColdRatio     float64 `json:"cold_ratio"` // cold / plain
	// The CPU time of the client, all workers and gearmand in the cold
	// map whose total is the median.
	ColdCPUms CPUms `json:"cold_cpu_ms"`
	// Copies is the bytes the client sent gearmand during the cold maps
	// over the shared value's size, per map (one per worker expected).
	Copies float64 `json:"copies"`
}
