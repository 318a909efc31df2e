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
	fmt.Fprintf(b, "`/call` runs `pool.Call`.\n\n")
	fmt.Fprintf(b, "| request | requests/s | items/s |\n| --- | ---: | ---: |\n")
	fmt.Fprintf(b, "| `POST .../call`, one item, %d clients | %s | %s |\n", g.Clients, num(g.CallsPerS), num(g.CallsPerS))
	fmt.Fprintf(b, "| `POST .../map`, %d items each, %d clients | %s | %s |\n", g.MapItems, g.Clients, num(g.MapsPerS), num(g.MapItemsPerS))
	fmt.Fprintf(b, "| `POST .../map`, %s items, JSON array, one client | | %s |\n", num(float64(g.BigItems)), num(g.BigItemsPerS))
	fmt.Fprintf(b, "| `POST .../map`, %s items, NDJSON both ways, one client | | %s |\n\n", num(float64(g.BigItems)), num(g.NDJSONItemsPerS))
	writeGatewayTasks(b, g)
	return nil
}

// writeGatewayTasks is the enqueue and webhook delivery rows, beside
// Miyamoto's PERFORMANCE figures and issue 15's bar.
func writeGatewayTasks(b *strings.Builder, g benchjson.Gateway) {
	if g.Enqueues == 0 {
		return
	}
	fmt.Fprintf(b, "Tasks over HTTP: `POST /queue` with Miyamoto's form from %d keep-alive clients, into a SQLite task store; the\n", g.Clients)
	fmt.Fprintf(b, "deliveries are tasks due now, called by the workers' webhook function on a receiver in the bench process, timed\n")
	fmt.Fprintf(b, "from the first enqueue to the last call received. Miyamoto's PERFORMANCE file: ~600-740 enqueues/s and\n")
	fmt.Fprintf(b, "~250-400 dispatches/s with 10 keep-alive clients.\n\n")
	fmt.Fprintf(b, "| measurement | glimpse-go | Miyamoto | issue 15's bar |\n| --- | ---: | ---: | ---: |\n")
	fmt.Fprintf(b, "| `POST /queue`, %s tasks due in an hour | %s enqueues/s | ~600-740 | >= 15,000 |\n", num(float64(g.Enqueues)), num(g.EnqueuesPerS))
	if g.PostgresEnqueuesPerS > 0 {
		fmt.Fprintf(b, "| the same into a PostgreSQL task store | %s enqueues/s | | |\n", num(g.PostgresEnqueuesPerS))
	}
	if g.CeilingPerS > 0 {
		fmt.Fprintf(b, "| the same requests to a no-op HTTP server: the ceiling | %s requests/s | | |\n", num(g.CeilingPerS))
	}
	fmt.Fprintf(b, "| `POST /queue`, %s tasks due now, to the receiver | %s deliveries/s | ~250-400 | >= 3,000 |\n\n", num(float64(g.Deliveries)), num(g.DeliveriesPerS))
	writeEnqueueCPU(b, g)
}

// writeEnqueueCPU says what an enqueue costs in CPU beside the no-op
// server's request, and the rate that allows on the machine's CPUs.
func writeEnqueueCPU(b *strings.Builder, g benchjson.Gateway) {
	if g.CeilingPerS == 0 {
		return
	}
	fmt.Fprintf(b, "The no-op server is a net/http server process with the gateway's timeouts that reads the body and answers a fixed\n")
	fmt.Fprintf(b, "`{\"status\":\"scheduled\",...}`; its rounds alternate with the gateway's. CPU per request, server / clients: %.0f / %.0f µs\n", g.EnqueueServerCPUus, g.EnqueueClientCPUus)
	fmt.Fprintf(b, "through the gateway, %.0f / %.0f µs to the no-op server", g.CeilingServerCPUus, g.CeilingClientCPUus)
	if g.PostgresEnqueueServerCPU > 0 {
		fmt.Fprintf(b, ", %.0f µs in the gateway into PostgreSQL (its server's own not counted)", g.PostgresEnqueueServerCPU)
	}
	fmt.Fprintf(b, ".\n\n")
}
