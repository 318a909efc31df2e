package main

import (
	"strings"
	"testing"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

// TestLargeFloorRows: the large-item table sets the direct path (the
// default) beside the same map with it off, then the floors.
func TestLargeFloorRows(t *testing.T) {
	var b strings.Builder
	writeLargeFloor(&b, benchjson.Large{FirstMBps: 600, SteadyMBps: 1100, ClientCPUms: 90, WorkersCPUms: 110, GearmandCPUms: 8,
		DirectOff: &benchjson.LargeFloor{Name: "pool.Map, direct path off (gearmand relays the items)", Server: "gearmand", FirstMBps: 500, SteadyMBps: 790},
		Floor:     []benchjson.LargeFloor{{Name: "raw loopback TCP through a relay process", Server: "relay", FirstMBps: 1000, SteadyMBps: 1090}}})
	table := b.String()
	rows := []string{
		"| pool.Map, direct path (above) | 600 | 1100 | 90 / 110 / 8 (gearmand) |",
		"| pool.Map, direct path off (gearmand relays the items) | 500 | 790 |",
		"| raw loopback TCP through a relay process | 1000 | 1090 |",
	}
	last := -1
	for _, row := range rows {
		i := strings.Index(table, row)
		if i < 0 || i < last {
			t.Fatalf("the table lacks %q, or has it out of order:\n%s", row, table)
		}
		last = i
	}
}
