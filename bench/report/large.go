package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

// writeLargeIn ends the pool section with the large-item figures
// (bench/largeitems, step "large"), or says they are missing.
func writeLargeIn(b *strings.Builder, out string) {
	fmt.Fprintf(b, "**Large items** (`largeitems`, step `large`):\n\n")
	if err := writeLarge(b, out, "large"); err != nil {
		fmt.Fprintf(b, "Not measured: %v; its output is in [large.txt](large.txt).\n\n", err)
	}
}

// writeLarge is the large-item table.
func writeLarge(b *strings.Builder, out, name string) error {
	var l benchjson.Large
	if err := benchjson.Read(filepath.Join(out, name+".json"), &l); err != nil {
		return err
	}
	if len(l.AllMBps) == 0 {
		return errMissing
	}
	mib := func(kib int64) string { return fmt.Sprintf("%.0f MiB", float64(kib)/1024) }
	fmt.Fprintf(b, "Identity round trips (`examples.identity`) of %d items of %s bytes, %d maps in one fresh client process;\n",
		l.Items, num(float64(l.ItemBytes)), len(l.AllMBps))
	fmt.Fprintf(b, "%d worker processes x %d slots. MB/s is megabytes of input over the map's wall time.\n\n", l.Workers, l.Slots)
	fmt.Fprintf(b, "| chunks | first map MB/s | later maps MB/s (median) | client peak RSS | / (input+output) | CPU ms/map: client / workers / gearmand | worker RSS before / after |\n")
	fmt.Fprintf(b, "| --- | ---: | ---: | ---: | ---: | ---: | --- |\n")
	fmt.Fprintf(b, "| %s | %.0f | %.0f | %s | %.2fx | %.0f / %.0f / %.0f | %v / %v KiB |\n\n", chunkLabel(l.Chunksize, l.ChunkItems),
		l.FirstMBps, l.SteadyMBps, mib(l.PeakRSSKiB), l.RSSRatio, l.ClientCPUms, l.WorkersCPUms, l.GearmandCPUms, l.WorkerRSSBefKiB, l.WorkerRSSKiB)
	writeLargeFloor(b, l)
	return nil
}

// writeLargeFloor sets the map beside its floor, measured in the same run:
// the same map with the direct path off, the same items through bare
// Gearman, and through a raw TCP relay.
func writeLargeFloor(b *strings.Builder, l benchjson.Large) {
	if len(l.Floor) == 0 && l.DirectOff == nil {
		return
	}
	fmt.Fprintf(b, "Side by side, same run, same items. `pool.Map` takes the direct path by default (`pool.WithDirectData`): chunks of 1 MiB\n")
	fmt.Fprintf(b, "or more of large byte strings go between the client and the worker over a connection of their own, and gearmand carries\n")
	fmt.Fprintf(b, "only the jobs; with it off, gearmand relays every byte both ways. The floor: every item a job of its own through bare\n")
	fmt.Fprintf(b, "`gearman.Client` and echo `gearman.Worker` processes (the same gearmand, worker processes and slots), and the same bytes\n")
	fmt.Fprintf(b, "through a relay process that copies them through user space as gearmand does (client -> relay -> echo process -> relay ->\n")
	fmt.Fprintf(b, "client: four socket copies per byte, as through gearmand).\n\n")
	fmt.Fprintf(b, "| path | first MB/s | later MB/s (median) | CPU ms/map: client / workers / server in between |\n")
	fmt.Fprintf(b, "| --- | ---: | ---: | ---: |\n")
	fmt.Fprintf(b, "| pool.Map, direct path (above) | %.0f | %.0f | %.0f / %.0f / %.0f (gearmand) |\n", l.FirstMBps, l.SteadyMBps, l.ClientCPUms, l.WorkersCPUms, l.GearmandCPUms)
	rows := l.Floor
	if l.DirectOff != nil {
		rows = append([]benchjson.LargeFloor{*l.DirectOff}, rows...)
	}
	for _, f := range rows {
		fmt.Fprintf(b, "| %s | %.0f | %.0f | %.0f / %.0f / %.0f (%s) |\n", f.Name, f.FirstMBps, f.SteadyMBps, f.ClientCPUms, f.WorkersCPUms, f.ServerCPUms, f.Server)
	}
	fmt.Fprintf(b, "\n")
}
