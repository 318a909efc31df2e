package pool_test

import (
	"bytes"
	"context"
	"runtime"
	"testing"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// TestLargeMapSendsItemsInPlace: a Map of 1 MiB items sends them from
// where they are: the client allocates about the results alone (it
// allocated a copy of every item too, to encode the chunks), and every
// item comes back byte for byte. Results of an earlier map, still held,
// are untouched by a later map of other items.
func TestLargeMapSendsItemsInPlace(t *testing.T) {
	addr := gearmand(t)
	startWorkerProcess(t, 2, addr)
	p := newPool(t, funcs.Identity.Name(), 2, addr)
	ctx := testenv.Context(t)
	const n, size = 32, 1 << 20
	in := testenv.Blobs(n, size, 1)
	if _, err := pool.Map(ctx, p, funcs.Identity, in[:2]); err != nil { // connections, the worker check
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	out, err := pool.Map(ctx, p, funcs.Identity, in)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	testenv.SameBlobs(t, in, out)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("a map of %d x %d bytes allocated %d bytes in the client", n, size, allocated)
	if limit := uint64(n * size * 3 / 2); allocated > limit {
		t.Fatalf("the map allocated %d bytes for %d bytes of results: its items were copied", allocated, n*size)
	}

	testenv.HeldAcrossAnotherMap(t, out, func(items [][]byte) ([][]byte, error) {
		return pool.Map(ctx, p, funcs.Identity, items)
	})
}

// TestRunChunkPartsAliasesPayload: a worker's result of large items comes
// in parts that are the chunk's own payload (identity returns its items,
// which alias it), not copies; put together they are RunChunk's result.
func TestRunChunkPartsAliasesPayload(t *testing.T) {
	f, ok := wire.Lookup(funcs.Identity.Name())
	if !ok {
		t.Fatal("identity is not registered")
	}
	in := testenv.Blobs(4, 1<<20, 3)
	payload, err := wire.Encode(wire.ChunkRequest[[]byte]{InType: "[]uint8", OutType: "[]uint8", Items: in})
	if err != nil {
		t.Fatal(err)
	}
	want, err := f.RunChunk(context.Background(), payload, "w")
	if err != nil {
		t.Skipf("the chunk's shapes: %v", err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	parts, err := wire.RunChunkParts(context.Background(), f, payload, "w")
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.Join(parts, nil), want) {
		t.Fatal("the parts put together are not RunChunk's result")
	}
	inPayload := 0
	for _, p := range parts {
		if len(p) == 1<<20 && overlaps(payload, p) {
			inPayload++
		}
	}
	if inPayload != len(in) {
		t.Fatalf("%d of %d result items are the payload's own bytes", inPayload, len(in))
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("running the chunk in parts allocated %d bytes: the results were copied", grew)
	}
}

// overlaps says whether p lies within buf's memory.
func overlaps(buf, p []byte) bool {
	for i := range buf {
		if &buf[i] == &p[0] {
			return len(buf)-i >= len(p)
		}
	}
	return false
}
