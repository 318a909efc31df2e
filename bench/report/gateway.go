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
// Miyamoto's PERFORMANCE figures and issue 15's bar, each naming its
// client.
func writeGatewayTasks(b *strings.Builder, g benchjson.Gateway) {
	if g.Enqueues == 0 {
		return
	}
	fmt.Fprintf(b, "Tasks over HTTP: `POST /queue` with Miyamoto's form (`task.url`, `task.countdown`, a param), %d keep-alive\n", g.Clients)
	fmt.Fprintf(b, "connections, into a SQLite task store; the deliveries are tasks due now, called by the workers' webhook function on a\n")
	fmt.Fprintf(b, "receiver in the bench process, timed from the first enqueue to the last call received. Miyamoto's PERFORMANCE file:\n")
	fmt.Fprintf(b, "~600-740 enqueues/s and ~250-400 dispatches/s, \"10000 requests, 10 concurrent, keepalives\": ApacheBench's\n")
	fmt.Fprintf(b, "`ab -n 10000 -c 10 -k`. So the enqueue bar is measured as Miyamoto measured, with `ab -k -c %d`: a round with a failed\n", g.Clients)
	fmt.Fprintf(b, "or non-2xx request is an error, not a figure, and its tasks are counted in `GET /queues`. The Go client's rows\n")
	fmt.Fprintf(b, "(net/http, %d goroutines in the bench process) pay that client's CPU on the same two cores as the gateway.\n\n", g.Clients)
	fmt.Fprintf(b, "| measurement | client | glimpse-go | Miyamoto | issue 15's bar |\n| --- | --- | ---: | ---: | ---: |\n")
	enq := fmt.Sprintf("`POST /queue`, %s tasks due in an hour", num(float64(g.Enqueues)))
	abClient := fmt.Sprintf("`ab -k -c %d` (Miyamoto's)", g.Clients)
	goClient := fmt.Sprintf("Go net/http, %d goroutines", g.Clients)
	if g.ABError != "" {
		fmt.Fprintf(b, "| %s | %s | **not measured**: %s | ~600-740 | >= 15,000 |\n", enq, abClient, g.ABError)
	} else if g.ABEnqueuesPerS > 0 {
		fmt.Fprintf(b, "| %s | %s | %s enqueues/s | ~600-740 | >= 15,000 |\n", enq, abClient, num(g.ABEnqueuesPerS))
	}
	fmt.Fprintf(b, "| %s | %s | %s enqueues/s | | |\n", enq, goClient, num(g.EnqueuesPerS))
	if g.PostgresEnqueuesPerS > 0 {
		fmt.Fprintf(b, "| the same into a PostgreSQL task store | %s | %s enqueues/s | | |\n", goClient, num(g.PostgresEnqueuesPerS))
	}
	if g.ABCeilingPerS > 0 {
		fmt.Fprintf(b, "| the same requests to a no-op HTTP server: the ceiling | %s | %s requests/s | | |\n", abClient, num(g.ABCeilingPerS))
	}
	if g.CeilingPerS > 0 {
		fmt.Fprintf(b, "| the same requests to a no-op HTTP server: the ceiling | %s | %s requests/s | | |\n", goClient, num(g.CeilingPerS))
	}
	fmt.Fprintf(b, "| `POST /queue`, %s tasks due now, to the receiver | %s | %s deliveries/s | ~250-400 | >= 3,000 |\n\n", num(float64(g.Deliveries)), goClient, num(g.DeliveriesPerS))
	writeEnqueueCPU(b, g)
}

// writeEnqueueCPU says what an enqueue costs in CPU beside the no-op
// server's request, per client.
func writeEnqueueCPU(b *strings.Builder, g benchjson.Gateway) {
	if g.CeilingPerS == 0 {
		return
	}
	fmt.Fprintf(b, "The no-op server is a net/http server process with the gateway's timeouts that reads the body and answers a fixed\n")
	fmt.Fprintf(b, "`{\"status\":\"scheduled\",...}`; its rounds alternate with the gateway's. CPU per request, server / client:\n")
	if g.ABEnqueuesPerS > 0 {
		fmt.Fprintf(b, "from ab, %.0f / %.0f µs through the gateway, %.0f / %.0f µs to the no-op server;\n", g.ABEnqueueServerCPUus, g.ABEnqueueClientCPUus, g.ABCeilingServerCPUus, g.ABCeilingClientCPUus)
	}
	fmt.Fprintf(b, "from the Go client, %.0f / %.0f µs through the gateway, %.0f / %.0f µs to the no-op server", g.EnqueueServerCPUus, g.EnqueueClientCPUus, g.CeilingServerCPUus, g.CeilingClientCPUus)
	if g.PostgresEnqueueServerCPU > 0 {
		fmt.Fprintf(b, ", %.0f µs in the gateway into PostgreSQL (its server's own not counted)", g.PostgresEnqueueServerCPU)
	}
	fmt.Fprintf(b, ".\n\n")
}
