package cluster

import (
	"errors"
	"log/slog"
	"runtime"
	"testing"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
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
			in := testenv.Blobs(n, size, 1)
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
			testenv.SameBlobs(t, in, out)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("client and worker allocated %d bytes for %d x %d bytes", allocated, n, size)
			if limit := uint64(n * size * 5 / 2); !keyed && allocated > limit {
				t.Fatalf("client and worker allocated %d bytes for %d bytes of items: the items were copied", allocated, n*size)
			}

			testenv.HeldAcrossAnotherMap(t, out, func(items [][]byte) ([][]byte, error) {
				return pool.Map(ctx, p, funcs.Identity, items)
			})
		})
	}
}

// TestDirectPathThroughWorker: through the worker runtime, a map of large
// items takes the direct path (the job server relays kilobytes, not the
// items), comes back byte for byte, and the worker's metrics count the
// chunks' bytes as if the job server had carried them. A chunk over the
// worker's max_chunk_bytes is refused before it is fetched, with the
// same task error as a relayed one.
func TestDirectPathThroughWorker(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	w, err := NewWorker(config.Client{JobServers: []string{srv.Addr()}}, config.Worker{Slots: 2, MaxChunkBytes: 8 << 20},
		WithLogger(newLogger(testWriter{T: t}, slog.LevelWarn)))
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	t.Cleanup(func() { w.Close(); <-ran })
	w.Metrics() // counting from here
	proxy := testenv.CountBytes(t, srv.Addr())
	p, err := pool.New(config.Client{JobServers: []string{proxy.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitWorker(t, ctx, srv.Addr(), "glimpse."+funcs.Identity.Name())

	const n, size = 24, 1 << 20
	in := testenv.Blobs(n, size, 5)
	before := proxy.Up() + proxy.Down()
	out, err := pool.Map(ctx, p, funcs.Identity, in)
	if err != nil {
		t.Fatal(err)
	}
	testenv.SameBlobs(t, in, out)
	if relayed := proxy.Up() + proxy.Down() - before; relayed > 256<<10 {
		t.Fatalf("the job server relayed %d bytes for %d bytes of items: they did not take the direct path", relayed, n*size)
	}
	m := w.Metrics()
	if m.ReceivedBytes < n*size || m.SentBytes < n*size || m.ReceivedBytes > n*size+64<<10 || m.SentBytes > n*size+64<<10 {
		t.Fatalf("the worker counted %d bytes received and %d sent, want about %d each", m.ReceivedBytes, m.SentBytes, n*size)
	}
	for _, fm := range m.Functions {
		if fm.Function == funcs.Identity.Name() && fm.Items != n {
			t.Fatalf("the worker counted %d items, want %d", fm.Items, n)
		}
	}

	_, err = pool.Map(ctx, p, funcs.Identity, testenv.Blobs(1, 9<<20, 6))
	var te *pool.TaskError
	if !errors.As(err, &te) || te.Limit != wire.LimitChunkBytes {
		t.Fatalf("a chunk over max_chunk_bytes: %v, want a TaskError naming %s", err, wire.LimitChunkBytes)
	}
}
