package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

// writeReduce is the map/reduce section (bench/reducebench): issue 13's
// bars, the sum of squares and the word counts.
func writeReduce(b *strings.Builder, out, name string) error {
	var r benchjson.Reduce
	if err := benchjson.Read(filepath.Join(out, name+".json"), &r); err != nil {
		return err
	}
	if len(r.SumRoundsPerS) == 0 {
		return errMissing
	}
	cpuMs := func(c benchjson.CPUms) string {
		return fmt.Sprintf("%.0f / %.0f / %.0f", c.Client, c.Workers, c.Gearmand)
	}
	fmt.Fprintf(b, "%d worker processes x %d slots (`glimpse-cluster worker`), median of %d rounds. CPU is milliseconds per\n", r.Workers, r.Slots, r.Rounds)
	fmt.Fprintf(b, "round spent by the client / all workers / gearmand; client bytes are what the client process read.\n\n")
	fmt.Fprintf(b, "**Sum of x*x** (`pool.Reduce` of `examples.sumsquares`) over %s int64, from the slice to the sum:\n\n", num(float64(r.Items)))
	fmt.Fprintf(b, "| chunks | items/s | client bytes | CPU ms |\n| --- | ---: | ---: | --- |\n")
	fmt.Fprintf(b, "| %s | %s | %s | %s |\n\n", chunkLabel(r.Chunksize, r.SumChunks), num(r.SumItemsPerS), num(float64(r.SumClientBytes)), cpuMs(r.SumCPUms))
	fmt.Fprintf(b, "**Word count** of %.1f MB of Go sources: the keyed reduce (`pool.ReduceByKey` of the slice of\n", float64(r.CorpusBytes)/1e6)
	fmt.Fprintf(b, "items, and `pool.ReduceByKeySeq` of it as a sequence, of `examples.wordcounts`) against `pool.ImapUnordered`\n")
	fmt.Fprintf(b, "of `examples.wordcount` (each item's table) plus a client loop adding the tables up, taking turns; the same\n")
	fmt.Fprintf(b, "tokenizer (`funcs.forEachWord`) both ways. Beside the ratio of wall times (the bar), the ratio of CPU\n")
	fmt.Fprintf(b, "(all parties) is what a shared machine disturbs less: on 2 cores both word counts are bound by it.\n")
	fmt.Fprintf(b, "Where the keyed count's CPU goes (`-workerprofile PREFIX` writes each worker's profile, `-cpuprofile` the\n")
	fmt.Fprintf(b, "client's): on a worker about a third tokenizing (64 bytes at a time) and over two fifths adding to the\n")
	fmt.Fprintf(b, "table, mostly its one lookup per word in the chunk's string index (`pool/stringindex.go`); decoding (string\n")
	fmt.Fprintf(b, "items are read in place), copying keys (into blocks) and encoding a few per cent, GC about 6%%, sockets\n")
	fmt.Fprintf(b, "about 5%%, the scheduler the rest. The client's share is cutting and sending the chunks and merging the\n")
	fmt.Fprintf(b, "tables.\n\n")
	fmt.Fprintf(b, "| items | how | items/s | keyed / imap | CPU imap / keyed | client bytes | CPU ms |\n| --- | --- | ---: | ---: | ---: | ---: | --- |\n")
	for _, w := range r.WordCounts {
		what := fmt.Sprintf("%s %s", num(float64(w.Count)), w.Items)
		keyed := w.Keyed
		if keyed == "" {
			keyed = "ReduceByKeySeq"
		}
		cpuRatio := "n/a"
		if w.KeyedCPUms.Total() > 0 {
			cpuRatio = fmt.Sprintf("%.2fx", w.ImapCPUms.Total()/w.KeyedCPUms.Total())
		}
		fmt.Fprintf(b, "| %s | %s | %s | **%.2fx** | %s | %s | %s |\n", what, keyed, num(w.KeyedItemsPerS), w.Speedup, cpuRatio, num(float64(w.KeyedClientBytes)), cpuMs(w.KeyedCPUms))
		fmt.Fprintf(b, "| %s | ImapUnordered + loop | %s | | | %s | %s |\n", what, num(w.ImapItemsPerS), num(float64(w.ImapClientBytes)), cpuMs(w.ImapCPUms))
	}
	fmt.Fprintf(b, "\n")
	return nil
}
