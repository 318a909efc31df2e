package funcs_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// corpusChunks reads the repository's Go sources and cuts them into
// chunk payloads of about 1 MiB each (as a keyed reduce's automatic
// chunks of files are) for the function of the given shapes.
func corpusChunks(tb testing.TB, in, out string) (payloads [][]byte, bytes int64) {
	tb.Helper()
	var texts []string
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != "../.." {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			texts = append(texts, string(data))
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	var chunk []string
	size := 0
	flush := func() {
		data, err := wire.Encode(wire.ChunkRequest[string]{InType: in, OutType: out, Items: chunk})
		if err != nil {
			tb.Fatal(err)
		}
		payloads = append(payloads, data)
		chunk, size = nil, 0
	}
	for _, t := range texts {
		chunk = append(chunk, t)
		size += len(t)
		bytes += int64(len(t))
		if size >= 1<<20 {
			flush()
		}
	}
	if len(chunk) > 0 {
		flush()
	}
	return payloads, bytes
}

func benchmarkChunks(b *testing.B, name, in, out string) {
	payloads, n := corpusChunks(b, in, out)
	fn, ok := wire.Lookup(name)
	if !ok {
		b.Fatalf("%s not registered", name)
	}
	b.SetBytes(n)
	b.ReportAllocs()
	ctx := context.Background()
	cpu0 := processCPU()
	for b.Loop() {
		for _, p := range payloads {
			if _, err := fn.RunChunk(ctx, p, "bench"); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is this process's user and system CPU time, which a busy
// machine disturbs less than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWordCountsChunks is a worker's side of the keyed word count of
// the repository's sources: decode, tokenize, combine, encode the table.
func BenchmarkWordCountsChunks(b *testing.B) {
	in, out := funcs.WordCounts.Shapes()
	benchmarkChunks(b, funcs.WordCounts.Name(), in, out)
}

// BenchmarkWordCountChunks is the same through the map's function (a
// table per item).
func BenchmarkWordCountChunks(b *testing.B) {
	in, out := funcs.WordCount.Shapes()
	benchmarkChunks(b, funcs.WordCount.Name(), in, out)
}
