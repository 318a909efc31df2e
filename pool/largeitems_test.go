package pool_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// chunkSizes returns a Progress option that records the items of each
// chunk retired (one call per chunk), and the slice it fills.
func chunkSizes() (pool.MapOption, *[]int) {
	var sizes []int
	last := 0
	return pool.Progress(func(done, _ int) {
		sizes = append(sizes, done-last)
		last = done
	}), &sizes
}

// blobs returns n items of size bytes, each filled with its index.
func blobs(n, size int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = bytes.Repeat([]byte{byte(i)}, size)
	}
	return out
}

// TestAutoChunksBySize: automatic chunks of 1 MiB items stay at the byte
// target (they were a quarter of the items per slot, 16 MiB here), an
// item larger than the target goes alone, and 8-byte items still get the
// count bound's big chunks. Values are compared after each round trip.
func TestAutoChunksBySize(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 1, addr)
	p := newPool(t, funcs.Identity.Name(), 1, addr)
	ctx := testenv.Context(t)
	const mib = 1 << 20

	in := blobs(64, mib)
	progress, sizes := chunkSizes()
	out, err := pool.Map(ctx, p, funcs.Identity, in, progress)
	if err != nil {
		t.Fatal(err)
	}
	testenv.SameBlobs(t, in, out)
	perChunk := pool.TargetChunkBytes / mib
	// Map reports chunks as they complete: the remainder may come anywhere.
	short := 0
	for _, n := range *sizes {
		if n < perChunk-1 {
			short++
		}
		if n > perChunk || short > 1 {
			t.Fatalf("chunks of %v items of 1 MiB: want %d or %d items (%d MiB target) each but the remainder", *sizes, perChunk-1, perChunk, perChunk)
		}
	}

	// An item larger than the target goes alone: the small one buffered
	// before it leaves first. (12 items on 1 slot: 3 per chunk by count.)
	mixed := blobs(12, 1)
	mixed[4] = bytes.Repeat([]byte{7}, pool.TargetChunkBytes+1)
	progress, sizes = chunkSizes()
	out, err = pool.Map(ctx, p, funcs.Identity, mixed, progress)
	if err != nil {
		t.Fatal(err)
	}
	testenv.SameBlobs(t, mixed, out)
	// In input order [3 1 1 3 3 1]; Map reports them as they complete.
	slices.Sort(*sizes)
	if want := []int{1, 1, 1, 3, 3, 3}; !slices.Equal(*sizes, want) {
		t.Fatalf("4 small, 1 large, 7 small came in chunks of %v (sorted), want %v", *sizes, want)
	}

	// 8-byte items: the count bound (a quarter of the items per slot).
	progress, sizes = chunkSizes()
	sq, err := pool.Map(ctx, p, funcs.Square, ints(200_000), progress)
	if err != nil || sq[199_999] != 199_999*199_999 {
		t.Fatalf("squares: %v", err)
	}
	if !slices.Equal(*sizes, []int{50_000, 50_000, 50_000, 50_000}) {
		t.Fatalf("200,000 int64s on one slot came in chunks of %v, want 4 of 50,000", *sizes)
	}
}

// TestImapChunksBySize: an Imap's chunks double while they come back fast
// (up to 16,384 items), but not past the byte target.
func TestImapChunksBySize(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 2, addr)
	p := newPool(t, funcs.Identity.Name(), 2, addr)
	in := blobs(48, 1<<20)
	progress, sizes := chunkSizes()
	i := 0
	for v, err := range pool.Imap(testenv.Context(t), p, funcs.Identity, slices.Values(in), progress) {
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(v, in[i]) {
			t.Fatalf("item %d came back different", i)
		}
		i++
	}
	if i != len(in) {
		t.Fatalf("%d results of %d", i, len(in))
	}
	for _, n := range *sizes {
		if n<<20 > pool.TargetChunkBytes {
			t.Fatalf("chunks of %v items of 1 MiB: one is over the %d-byte target", *sizes, pool.TargetChunkBytes)
		}
	}
}

// largeClientEnv makes the test binary a client that maps identity over
// large items: "ADDR ITEMS SIZE"; it prints its peak RSS in KiB.
const largeClientEnv = "POOL_TEST_LARGE_CLIENT"

func largeClientProcess(spec string) int {
	var addr string
	var n, size int
	if _, err := fmt.Sscan(spec, &addr, &n, &size); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	p, err := pool.New(config.Client{JobServers: []string{addr}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer p.Close()
	in := blobs(n, size)
	for round := range 2 {
		out, err := pool.Map(context.Background(), p, funcs.Identity, in)
		if err == nil && len(out) != n {
			err = fmt.Errorf("%d results of %d", len(out), n)
		}
		for i := 0; err == nil && i < n; i++ {
			if !bytes.Equal(out[i], in[i]) {
				err = fmt.Errorf("round %d: item %d came back different", round, i)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	hwm, err := statusKiB("/proc/self/status", "VmHWM")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println(hwm)
	return 0
}

// TestLargeMapClientRSS: a client process that maps identity over 64 x
// 1 MiB twice peaks at a small multiple of its input plus output (it was
// 3.0-3.3x: a growing encode buffer, its clone, the queue's copy, 16 MiB
// chunks). The bound is generous; the figure is logged.
func TestLargeMapClientRSS(t *testing.T) {
	addr := gearmand(t)
	startWorkerProcess(t, 2, addr)
	newPool(t, funcs.Identity.Name(), 2, addr)
	const n, size = 64, 1 << 20
	cmd, out := testenv.Subprocess(t, fmt.Sprintf("%s=%s %d %d", largeClientEnv, addr, n, size))
	text, _ := bufio.NewReader(out).ReadString('\n')
	if err := cmd.Wait(); err != nil {
		t.Fatalf("client process: %v (printed %q)", err, text)
	}
	hwm, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil {
		t.Fatalf("client process printed %q", text)
	}
	inOut := int64(2 * n * size / 1024)
	ratio := float64(hwm) / float64(inOut)
	t.Logf("client peak RSS %d KiB = %.2fx input+output (%d KiB)", hwm, ratio, inOut)
	if raceDetector {
		return // the race detector's shadow memory is no client's
	}
	if limit := 2.75; ratio > limit {
		t.Fatalf("client peak RSS %.2fx input+output, want <= %.2fx", ratio, limit)
	}
}

// statusKiB reads a "Name:  N kB" field of a /proc status file.
func statusKiB(path, field string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			num, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
			return strconv.ParseInt(num, 10, 64)
		}
	}
	return 0, errors.New("no " + field + " in " + path)
}
