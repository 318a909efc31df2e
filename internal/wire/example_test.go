package wire_test

import (
	"bytes"
	"context"
	"fmt"
	"reflect"

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

func ExampleCheckChunk() {
	// A worker checks a chunk before it decodes it: 2,000,000 1-byte ints
	// are 2 MB of msgpack but 32 MB of []int64 as msgpack decodes them.
	items := make([]int64, 2_000_000)
	payload, _ := wire.Encode(wire.ChunkRequest[int64]{InType: "int64", OutType: "int64", Items: items})
	lim := wire.Limits{MaxItems: 1_000_000, MaxExpansion: 8}
	fmt.Println(wire.CheckChunk(payload, reflect.TypeFor[int64](), lim))
	lim.MaxItems = 0 // not checked
	fmt.Println(wire.CheckChunk(payload, reflect.TypeFor[int64](), lim))
	// Output:
	// a chunk of 2000000 items is over the worker's max_chunk_items (1000000)
	// decoding the chunk's 2000021 bytes would allocate about 32000000 bytes (16x), over the worker's max_expansion (8x, at least 4194304: 16000168 bytes)
}

func ExampleEncodeSized() {
	// A chunk of three 1 MiB items, with 32 bytes of headroom for a MAC
	// frame: the buffer is allocated once at the size the items' measured
	// size predicts, and the message is written into it, not copied.
	items := [][]byte{make([]byte, 1<<20), make([]byte, 1<<20), make([]byte, 1<<20)}
	hint := 3*(1<<20+5) + 64
	msg, _ := wire.EncodeSized(32, hint, wire.ChunkRequest[[]byte]{Items: items})
	fmt.Println(len(msg)-32 <= hint, cap(msg) == 32+1+hint)
	var back wire.ChunkRequest[[]byte]
	fmt.Println(wire.Decode(msg[32:], &back), len(back.Items), len(back.Items[2]))
	// Output:
	// true true
	// <nil> 3 1048576
}

func ExampleEncodeParts() {
	// A large byte string stays where it is, a part of its own; the
	// parts put together are Encode's message.
	big := make([]byte, wire.PartMin)
	parts, _ := wire.EncodeParts(0, [][]byte{[]byte("small"), big})
	whole, _ := wire.Encode([][]byte{[]byte("small"), big})
	fmt.Println(len(parts), &parts[1][0] == &big[0], len(parts[0])+len(parts[1]) == len(whole))
	// Output: 2 true true
}

// upper is a Function that is no PartsRunner: its result is one part.
type upper struct{}

func (upper) Name() string        { return "upper" }
func (upper) GearmanName() string { return wire.GearmanPrefix + "upper" }
func (upper) RunChunk(_ context.Context, payload []byte, _ string) ([]byte, error) {
	return bytes.ToUpper(payload), nil
}

func ExampleRunChunkParts() {
	// A worker runtime asks for a chunk's result in parts; a Function
	// that cannot give them gives its result as one.
	parts, err := wire.RunChunkParts(context.Background(), upper{}, []byte("chunk"), "worker-1")
	fmt.Printf("%q %v\n", parts, err)
	// Output: ["CHUNK"] <nil>
}
