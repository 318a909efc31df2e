package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

// writeGateway is gatewaybench's table.
func writeGateway(b *strings.Builder, out, name string) error {
	var g benchjson.Gateway
	if err := benchjson.Read(filepath.Join(out, name+".json"), &g); err != nil {
		return err
	}
	if g.Calls == 0 {
		return errMissing
	}
	fmt.Fprintf(b, "A `glimpse-cluster http` process in front of %d `glimpse-cluster worker -n %d` processes, driven by %d keep-alive\n", g.Workers, g.Slots, g.Clients)
	fmt.Fprintf(b, "HTTP clients in the bench process, running `examples.square`; every answer is checked; median of %d rounds.\n", g.Rounds)
	fmt.Fprintf(b, "`/call` is a one-item `pool.Map` for now (pool.Call will replace it). HTTP enqueue (issue 15's bar of >= 15,000\n")
	fmt.Fprintf(b, "enqueues/s) waits for the task service.\n\n")
	fmt.Fprintf(b, "| request | requests/s | items/s |\n| --- | ---: | ---: |\n")
	fmt.Fprintf(b, "| `POST .../call`, one item, %d clients | %s | %s |\n", g.Clients, num(g.CallsPerS), num(g.CallsPerS))
	fmt.Fprintf(b, "| `POST .../map`, %d items each, %d clients | %s | %s |\n", g.MapItems, g.Clients, num(g.MapsPerS), num(g.MapItemsPerS))
	fmt.Fprintf(b, "| `POST .../map`, %s items, JSON array, one client | | %s |\n", num(float64(g.BigItems)), num(g.BigItemsPerS))
	fmt.Fprintf(b, "| `POST .../map`, %s items, NDJSON both ways, one client | | %s |\n\n", num(float64(g.BigItems)), num(g.NDJSONItemsPerS))
	return nil
}
