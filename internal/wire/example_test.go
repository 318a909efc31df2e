package wire_test

import (
	"fmt"

	"github.com/glimpse-go/glimpse/internal/wire"
)

func ExampleChunkMapID() {
	// A worker finds the map a chunk belongs to in the chunk's unique id,
	// to obey a cancel command for that map.
	fmt.Printf("%q\n", wire.ChunkMapID("3f2a9c1b5e7d4a60-12"))
	fmt.Printf("%q\n", wire.ChunkMapID("not-a-chunk"))
	// Output:
	// "3f2a9c1b5e7d4a60"
	// ""
}

func ExampleWorkerClientID() {
	id := wire.WorkerClientID("host1-4242-9f3a", 8)
	workerID, slots, ok := wire.ParseWorkerClientID(id)
	fmt.Println(id, workerID, slots, ok)
	// Output: glimpse/8/host1-4242-9f3a host1-4242-9f3a 8 true
}
