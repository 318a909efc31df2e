package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

// writeShared is the shared-value section (bench/sharedvalue, issue 13's
// third bar).
func writeShared(b *strings.Builder, out, name string) error {
	var s benchjson.Shared
	if err := benchjson.Read(filepath.Join(out, name+".json"), &s); err != nil {
		return err
	}
	if len(s.WarmMs) == 0 {
		return errMissing
	}
	fmt.Fprintf(b, "%s small items (int64) on %d `glimpse-cluster worker -n %d` processes. Plain: `examples.square`, no shared value.\n",
		num(float64(s.Items)), s.Workers, s.Slots)
	fmt.Fprintf(b, "Shared: `examples.lookup` (`pool.RegisterWith`) with a shared table of %s bytes: \"cold\" is the first map of a\n",
		num(float64(s.SharedBytes)))
	fmt.Fprintf(b, "table new to the workers (the client encodes and hashes it; each worker asks for it and gets one copy, which it\n")
	fmt.Fprintf(b, "checks and decodes), \"warm\" a later map of the same `Func` (the workers hold it; chunks carry its hash). Each of\n")
	fmt.Fprintf(b, "%d rounds runs one cold map, then %d plain and warm maps in turns; medians of all. Copies are the client's bytes\n",
		s.Rounds, s.Pairs)
	fmt.Fprintf(b, "to gearmand during a cold map (what it wrote, /proc/self/io) over the table's size.\n\n")
	fmt.Fprintf(b, "| map | median ms | vs plain | copies of the table |\n| --- | ---: | ---: | ---: |\n")
	fmt.Fprintf(b, "| plain | %.1f | 1.00x | |\n", s.PlainMedianMs)
	fmt.Fprintf(b, "| shared, warm | %.1f | %.2fx (bar: <= 1.2x) | 0 |\n", s.WarmMedianMs, s.WarmRatio)
	fmt.Fprintf(b, "| shared, cold | %.1f | %.0fx | %.2f (workers: %d) |\n\n", s.ColdMedianMs, s.ColdRatio, s.Copies, s.Workers)
	if c := s.ColdCPUms; c.Total() > 0 {
		fmt.Fprintf(b, "A cold map's CPU (median): client %.0f ms, workers %.0f ms, gearmand %.0f ms. It cannot come near a plain map's\n",
			c.Client, c.Workers, c.Gearmand)
		fmt.Fprintf(b, "time: the client hashes the table (SHA-256) and sends one copy per worker through gearmand (%s MB in and out),\n",
			num(float64(s.SharedBytes)*float64(s.Workers)/1e6))
		fmt.Fprintf(b, "and each worker reads and checks its copy; the value is then used where it came, not decoded into another copy.\n\n")
	}
	return nil
}
