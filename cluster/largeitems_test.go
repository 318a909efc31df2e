package cluster

import (
	"bytes"
	"log/slog"
	"runtime"
	"testing"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// TestLargeItemsRoundTrip: large items (and small ones among them) come
// back byte for byte through the worker runtime, with a cluster key
// (chunks and results sealed whole) and without one (sent in parts from
// where they are, on both sides). Without a key, client and worker
// together allocate about the results and the worker's copy of the chunk
// (they allocated a copy of every item on each side too); results held
// from an earlier map are untouched by a later one.
func TestLargeItemsRoundTrip(t *testing.T) {
	for _, keyed := range []bool{false, true} {
		name := map[bool]string{false: "no key", true: "key"}[keyed]
		t.Run(name, func(t *testing.T) {
			ctx := testenv.Context(t)
			srv := testenv.Gearmand(t)
			client := config.Client{JobServers: []string{srv.Addr()}}
			if keyed {
				_, client.KeyFile = testenv.KeyFile(t)
			}
			w, err := NewWorker(client, config.Worker{Slots: 2}, WithLogger(newLogger(testWriter{T: t}, slog.LevelWarn)))
			if err != nil {
				t.Fatal(err)
			}
			ran := make(chan error, 1)
			go func() { ran <- w.Run() }()
			t.Cleanup(func() { w.Close(); <-ran })
			p, err := pool.New(client)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			waitWorker(t, ctx, srv.Addr(), "glimpse."+funcs.Identity.Name())

			const n, size = 24, 1 << 20
			in := largeBlobs(n, size, 1)
			in[5], in[17] = []byte("small"), nil
			if _, err := pool.Map(ctx, p, funcs.Identity, in[:2]); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			out, err := pool.Map(ctx, p, funcs.Identity, in)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			sameBlobs(t, in, out)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("client and worker allocated %d bytes for %d x %d bytes", allocated, n, size)
			if limit := uint64(n * size * 5 / 2); !keyed && allocated > limit {
				t.Fatalf("client and worker allocated %d bytes for %d bytes of items: the items were copied", allocated, n*size)
			}

			kept := make([][]byte, len(out))
			for i := range out {
				kept[i] = bytes.Clone(out[i])
			}
			other := largeBlobs(n, size, 2)
			out2, err := pool.Map(ctx, p, funcs.Identity, other)
			if err != nil {
				t.Fatal(err)
			}
			sameBlobs(t, other, out2)
			sameBlobs(t, kept, out)
		})
	}
}

func sameBlobs(t *testing.T, want, got [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d results of %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(want[i], got[i]) {
			t.Fatalf("item %d (%d bytes) came back as %d different bytes", i, len(want[i]), len(got[i]))
		}
	}
}

// largeBlobs returns n items of size pseudo-random bytes, from seed.
func largeBlobs(n, size int, seed uint64) [][]byte {
	out := make([][]byte, n)
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := range out {
		out[i] = make([]byte, size)
		for j := range out[i] {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			out[i][j] = byte(x)
		}
	}
	return out
}
