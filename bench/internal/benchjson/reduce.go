package benchjson

// Reduce is reducebench's output: map/reduce on the workers (issue 13's
// bars).
type Reduce struct {
	Workers int `json:"workers"` // worker processes
	Slots   int `json:"slots"`   // slots of each
	Rounds  int `json:"rounds"`

	// Sum of x*x over Items int64 with pool.Reduce (examples.sumsquares).
	Items          int       `json:"items"`
	Chunksize      int       `json:"chunksize"`       // asked; 0: automatic
	SumItemsPerS   float64   `json:"sum_items_per_s"` // median of the rounds
	SumRoundsPerS  []float64 `json:"sum_rounds_per_s"`
	SumChunks      int       `json:"sum_chunks"`       // chunks of a round
	SumClientBytes int64     `json:"sum_client_bytes"` // bytes the client read in a round
	SumCPUms       CPUms     `json:"sum_cpu_ms"`       // of the median round

	// Word counts of a corpus of CorpusBytes: the keyed reduce
	// (examples.wordcounts, pool.ReduceByKeySeq) against
	// pool.ImapUnordered of examples.wordcount plus a loop adding the
	// per-item tables up on the client, taking turns in the same run;
	// one row per item granularity (whole files, lines).
	CorpusBytes int64          `json:"corpus_bytes"`
	WordCounts  []WordCountRow `json:"word_counts"`
}

// WordCountRow is one item granularity of the word count.
type WordCountRow struct {
	Items            string    `json:"items"`             // "files" or "lines"
	Keyed            string    `json:"keyed,omitempty"`   // "ReduceByKey" (a slice) or "ReduceByKeySeq" ("": the latter)
	Count            int       `json:"count"`             // items of the corpus
	KeyedItemsPerS   float64   `json:"keyed_items_per_s"` // median
	ImapItemsPerS    float64   `json:"imap_items_per_s"`  // median
	Speedup          float64   `json:"speedup"`           // keyed / imap, of the medians
	KeyedRoundsPerS  []float64 `json:"keyed_rounds_per_s"`
	ImapRoundsPerS   []float64 `json:"imap_rounds_per_s"`
	KeyedClientBytes int64     `json:"keyed_client_bytes"` // bytes the client read in a round
	ImapClientBytes  int64     `json:"imap_client_bytes"`
	KeyedCPUms       CPUms     `json:"keyed_cpu_ms"` // of a round, median
	ImapCPUms        CPUms     `json:"imap_cpu_ms"`
}

// CPUms is milliseconds of CPU (user+system) spent by each party.
type CPUms struct {
	Client   float64 `json:"client"`
	Workers  float64 `json:"workers"`
	Gearmand float64 `json:"gearmand"`
}

// Total is the CPU of all parties.
func (c CPUms) Total() float64 { return c.Client + c.Workers + c.Gearmand }
