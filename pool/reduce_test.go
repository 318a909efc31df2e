package pool_test

import (
	"context"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

var (
	// concat folds decimal texts by concatenation: a combine that is not
	// commutative. Items below 10 take a while, so the first chunks come
	// back after later ones.
	concat = pool.RegisterReducer("test.concat",
		func(_ context.Context, x int) (string, error) {
			if x < 10 {
				time.Sleep(20 * time.Millisecond)
			}
			return strconv.Itoa(x) + ",", nil
		},
		func(acc, s string) string { return acc + s },
		func(a, b string) string { return a + b })

	// reduceCalls counts the calls of countedSum, which sleeps d.
	reduceCalls atomic.Int64
	countedSum  = pool.RegisterReducer("test.countedsum",
		func(ctx context.Context, d time.Duration) (int64, error) {
			reduceCalls.Add(1)
			select {
			case <-time.After(d):
				return 1, nil
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		},
		func(acc, n int64) int64 { return acc + n },
		func(a, b int64) int64 { return a + b })

	// combinePanics panics in its combine on item 777's result, and in its
	// merge when an accumulator is negative (item -1).
	combinePanics = pool.RegisterReducer("test.combinepanics",
		func(_ context.Context, x int) (int, error) { return x, nil },
		func(acc, x int) int {
			if x == 777 {
				var m map[int]int
				m[x]++
			}
			return acc + x
		},
		func(a, b int) int {
			if b < 0 {
				panic("negative accumulator")
			}
			return a + b
		})

	// keyedPanics panics in its combine on the key "boom" seen twice.
	keyedPanics = pool.RegisterKeyed("test.keyedpanics",
		func(_ context.Context, s string, emit func(string, int)) error {
			if s == "fail" {
				return errors.New("refused fail")
			}
			emit(s, 1)
			return nil
		},
		func(a, b int) int {
			if a > 0 && b > 0 && a+b == 2 {
				panic("boom combine")
			}
			return a + b
		})
)

// sumSquaresMod64 is the closed form of 0²+1²+...+(n-1)², wrapped to
// int64 as the reduce's int64 additions wrap.
func sumSquaresMod64(n int64) int64 {
	s := new(big.Int).Mul(big.NewInt(n-1), big.NewInt(n))
	s.Mul(s, big.NewInt(2*n-1))
	s.Quo(s, big.NewInt(6))
	s.And(s, new(big.Int).SetUint64(^uint64(0)))
	return int64(s.Uint64())
}

// Ten million squares summed on two worker processes match the closed
// form, and the client receives one small accumulator per chunk: far
// fewer bytes than the items (a result per item would be over 10 MB).
func TestReduceSumOfSquaresSendsOneResultPerChunk(t *testing.T) {
	addr := gearmand(t)
	startWorkerProcess(t, 1, addr)
	startWorkerProcess(t, 1, addr)
	proxy := startCountingProxy(t, addr)
	p := newPool(t, funcs.SumSquares.Name(), 2, proxy.addr())
	const n = 10_000_000
	items := ints(n)
	before := proxy.received.Load()
	var chunks, lastDone int
	got, err := pool.Reduce(testenv.Context(t), p, funcs.SumSquares, items, pool.Progress(func(done, _ int) {
		chunks++
		lastDone = done
	}))
	if err != nil {
		t.Fatal(err)
	}
	if want := sumSquaresMod64(n); got != want {
		t.Fatalf("sum of squares %d, want %d", got, want)
	}
	if lastDone != n {
		t.Errorf("progress ended at %d items, want %d", lastDone, n)
	}
	received := proxy.received.Load() - before
	t.Logf("%d chunks, client received %d bytes", chunks, received)
	if chunks < 2 {
		t.Errorf("%d chunks: want several", chunks)
	}
	// A result per item would be over 10 MB: 10M squares of 1 to 9 bytes.
	if limit := min(int64(chunks)*512, 1<<20); received > limit {
		t.Fatalf("client received %d bytes for %d chunks (limit %d): results came per item, not per chunk", received, chunks, limit)
	}
}

// A combine that is not commutative (concatenation) gives the serial
// result, over a slice and over a stream, although the first chunks
// finish last.
func TestReduceKeepsInputOrder(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 4, addr)
	p := newPool(t, concat.Name(), 4, addr)
	items := make([]int, 300)
	var want strings.Builder
	for i := range items {
		items[i] = i
		want.WriteString(strconv.Itoa(i) + ",")
	}
	got, err := pool.Reduce(testenv.Context(t), p, concat, items, pool.Chunksize(7))
	if err != nil {
		t.Fatal(err)
	}
	if got != want.String() {
		t.Fatalf("Reduce concatenated\n%s\nwant\n%s", got, want.String())
	}
	got, err = pool.ReduceSeq(testenv.Context(t), p, concat, slices.Values(items), pool.Chunksize(5), pool.Window(6))
	if err != nil {
		t.Fatal(err)
	}
	if got != want.String() {
		t.Fatalf("ReduceSeq concatenated\n%s\nwant\n%s", got, want.String())
	}
	if got, err := pool.Reduce(testenv.Context(t), p, concat, nil); got != "" || err != nil {
		t.Fatalf("Reduce of no items: %q, %v", got, err)
	}
}

// serialWordCount counts words as funcs.WordCounts defines them (runs of
// letters and apostrophes of the lower-cased text), here.
func serialWordCount(texts []string) map[string]int {
	counts := map[string]int{}
	notWord := func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' }
	for _, text := range texts {
		for _, w := range strings.FieldsFunc(strings.ToLower(text), notWord) {
			counts[w]++
		}
	}
	return counts
}

// A keyed word count over files equals a serial count, over a slice and
// over a stream of the files' texts.
func TestReduceByKeyWordCountMatchesSerial(t *testing.T) {
	addr := gearmand(t)
	startWorkerProcess(t, 2, addr)
	p := newPool(t, funcs.WordCounts.Name(), 2, addr)
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) < 10 {
		t.Fatalf("pool's own sources: %v, %v", files, err)
	}
	var texts []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, string(data))
	}
	want := serialWordCount(texts)
	got, err := pool.ReduceByKey(testenv.Context(t), p, funcs.WordCounts, texts, pool.Chunksize(3))
	if err != nil {
		t.Fatal(err)
	}
	if !mapsEqual(got, want) {
		t.Fatalf("ReduceByKey: %d words, want %d (serial)", len(got), len(want))
	}
	got, err = pool.ReduceByKeySeq(testenv.Context(t), p, funcs.WordCounts, slices.Values(texts))
	if err != nil {
		t.Fatal(err)
	}
	if !mapsEqual(got, want) {
		t.Fatalf("ReduceByKeySeq: %d words, want %d (serial)", len(got), len(want))
	}
	var prev string
	n := 0
	for w := range pool.SortedByKey(got) {
		if n > 0 && w <= prev {
			t.Fatalf("SortedByKey: %q after %q", w, prev)
		}
		prev = w
		n++
	}
	if n != len(want) {
		t.Fatalf("SortedByKey yielded %d keys, want %d", n, len(want))
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Cancelling a reduce returns soon with the context's error, and its
// queued chunks do not run: far fewer calls than items.
func TestReduceCancelStopsTheWork(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 2, addr)
	p := newPool(t, countedSum.Name(), 2, addr)
	reduceCalls.Store(0)
	items := make([]time.Duration, 2000)
	for i := range items {
		items[i] = 5 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(testenv.Context(t))
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := pool.Reduce(ctx, p, countedSum, items, pool.Chunksize(10))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Reduce returned %v after it started (cancelled at 200ms)", took)
	}
	atCancel := reduceCalls.Load()
	time.Sleep(500 * time.Millisecond)
	after := reduceCalls.Load()
	t.Logf("%d calls at return, %d half a second later, of %d items", atCancel, after, len(items))
	// Two slots at 5ms a call for 200ms run about 80; the chunk each slot
	// was running may finish (this test's workers take no cancel command).
	if after > atCancel+2*10 || after > 400 {
		t.Fatalf("%d calls ran (%d at return) of %d items: the cancelled reduce went on", after, atCancel, len(items))
	}
}

// A panicking combine is a *TaskError naming the item; a failing function
// too; a panicking merge names the chunk. The keyed reduce's likewise.
func TestReduceFailuresAreTaskErrors(t *testing.T) {
	addr := gearmand(t)
	startWorker(t, 2, addr)
	p := newPool(t, combinePanics.Name(), 2, addr)
	ctx := testenv.Context(t)
	items := make([]int, 1000)
	for i := range items {
		items[i] = i
	}
	_, err := pool.Reduce(ctx, p, combinePanics, items, pool.Chunksize(100))
	var te *pool.TaskError
	if !errors.As(err, &te) || !te.Panic || te.Index != 777 || !strings.Contains(te.Message, "combine, in the chunk of items 700-799: ") || te.Worker == "" {
		t.Fatalf("combine panic: err = %#v, want a *TaskError for item 777 with Panic, a worker and the chunk", err)
	}
	if !strings.Contains(te.Stack, "reduce_test.go") {
		t.Errorf("combine panic stack does not show the combine:\n%s", te.Stack)
	}
	items[777], items[250] = 0, -10_000_000
	_, err = pool.Reduce(ctx, p, combinePanics, items, pool.Chunksize(100))
	if !errors.As(err, &te) || !te.Panic || !strings.Contains(te.Message, "merge of the chunk from item 200") {
		t.Fatalf("merge panic: err = %v, want a *TaskError naming the chunk from item 200", err)
	}
	waitSlots(t, p, keyedPanics.Name(), 2)
	_, err = pool.ReduceByKey(ctx, p, keyedPanics, []string{"a", "b", "c", "fail", "d"}, pool.Chunksize(2))
	if !errors.As(err, &te) || te.Panic || te.Index != 3 || te.Message != "refused fail" {
		t.Fatalf("keyed failure: err = %v, want a *TaskError for item 3", err)
	}
	_, err = pool.ReduceByKey(ctx, p, keyedPanics, []string{"a", "boom", "c", "boom", "d"}, pool.Chunksize(5), pool.TaskTimeout(time.Minute))
	if !errors.As(err, &te) || !te.Panic || te.Index != 3 || !strings.Contains(te.Message, "combine, in the chunk of items 0-4: boom combine") {
		t.Fatalf("keyed combine panic: err = %v, want a *TaskError for item 3", err)
	}
}

// Options are checked as for Map, and a zero Reducer is an error.
func TestReduceBadInput(t *testing.T) {
	addr := gearmand(t)
	p := newPool(t, "", 0, addr)
	if _, err := pool.Reduce(context.Background(), p, pool.Reducer[int, int, int]{}, []int{1}); err == nil {
		t.Fatal("zero Reducer: no error")
	}
	if _, err := pool.ReduceByKey(context.Background(), p, pool.KeyedReducer[string, string, int]{}, []string{"a"}); err == nil {
		t.Fatal("zero KeyedReducer: no error")
	}
	if _, err := pool.Reduce(context.Background(), p, concat, []int{1}, pool.Chunksize(-1)); err == nil || !strings.Contains(err.Error(), "Chunksize(-1)") {
		t.Fatalf("Chunksize(-1): %v", err)
	}
}

// driftReduce folds squares; in a drifted worker process (driftEnv) it
// maps to text and folds lengths: the same In and Acc, another Out.
var driftReduce = func() pool.Reducer[int64, int64, int64] {
	add := func(a, b int64) int64 { return a + b }
	if drifted {
		pool.RegisterReducer("drifttest.reduce",
			func(_ context.Context, x int64) (string, error) { return strconv.FormatInt(x, 10), nil },
			func(acc int64, s string) int64 { return acc + int64(len(s)) }, add)
		return pool.Reducer[int64, int64, int64]{}
	}
	return pool.RegisterReducer("drifttest.reduce",
		func(_ context.Context, x int64) (int64, error) { return x * x, nil }, add, add)
}()

// A worker whose reducer maps to another type than the client's refuses
// its chunks with a *TypeMismatchError, although In and Acc agree: the
// fold's type is part of the fingerprint.
func TestReduceTypeDriftRefused(t *testing.T) {
	addr := gearmand(t)
	startWorkerProcessEnv(t, []string{driftEnv + "=1"}, 1, addr)
	p := newPool(t, driftReduce.Name(), 1, addr)
	_, err := pool.Reduce(testenv.Context(t), p, driftReduce, []int64{1, 2, 3})
	var mm *pool.TypeMismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("err = %v, want a *pool.TypeMismatchError", err)
	}
	in, fold := driftReduce.Shapes()
	if mm.ClientIn != in || mm.ClientOut != fold || mm.WorkerIn != "int64" || mm.WorkerOut != "fold string into int64" {
		t.Fatalf("mismatch %+v; want client %s %s, worker int64, fold string into int64", mm, in, fold)
	}
}

// With BackupTasks a reduce whose first chunk a straggler holds for ever
// returns, exact, while the straggler still holds it: the chunk's backup
// copy ran on an idle worker.
func TestReduceBackupTasksBeatAStraggler(t *testing.T) {
	addr := gearmand(t)
	s := startStragglerFor(t, addr, funcs.SumSquares.Name())
	// A short grace: the map sees the idle workers come soon.
	p, err := pool.New(config.Client{JobServers: []string{addr}}, pool.WithNoWorkersGrace(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitSlots(t, p, funcs.SumSquares.Name(), 1)
	const n = 1000
	type result struct {
		sum int64
		err error
	}
	resc := make(chan result, 1)
	go func() {
		sum, err := pool.Reduce(testenv.Context(t), p, funcs.SumSquares, ints(n), pool.Chunksize(25), pool.BackupTasks())
		resc <- result{sum, err}
	}()
	<-s.held
	startWorker(t, 1, addr)
	startWorker(t, 1, addr)
	res := <-resc
	if res.err != nil {
		t.Fatal(res.err)
	}
	if s.ran.Load() != 0 {
		t.Fatal("the reduce waited for the straggler")
	}
	if want := sumSquaresMod64(n); res.sum != want {
		t.Fatalf("sum %d, want %d", res.sum, want)
	}
}

// A worker process killed while it holds a reduce's chunks costs nothing
// but time: gearmand gives its chunks to the other worker, and the sum is
// exact (each chunk's accumulator counted once).
func TestReduceSurvivesAKilledWorker(t *testing.T) {
	addr := gearmand(t)
	victim := startWorkerProcess(t, 2, addr)
	p := newPool(t, countedSum.Name(), 2, addr)
	items := make([]time.Duration, 400)
	for i := range items {
		items[i] = time.Millisecond
	}
	reduceCalls.Store(0)
	resc := make(chan error, 1)
	var got int64
	go func() {
		var err error
		got, err = pool.Reduce(testenv.Context(t), p, countedSum, items, pool.Chunksize(20))
		resc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := victim.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	startWorker(t, 2, addr)
	if err := <-resc; err != nil {
		t.Fatal(err)
	}
	if got != int64(len(items)) {
		t.Fatalf("sum %d, want %d", got, len(items))
	}
}

// A keyed reduce of a slice of texts is cut into at least 8 chunks per
// worker slot (here 3 MiB of texts on 2 slots: 16 or more, where 1 MiB
// chunks made 3), so that the last chunk to start leaves the other slot
// idle briefly; and it still counts as a serial count.
func TestReduceByKeySpreadsChunksOverSlots(t *testing.T) {
	addr := gearmand(t)
	startWorkerProcess(t, 2, addr)
	p := newPool(t, funcs.WordCounts.Name(), 2, addr)
	texts := make([]string, 300)
	for i := range texts {
		texts[i] = strings.Repeat("Word"+strconv.Itoa(i%50)+" words ", 10<<10/12)
	}
	chunks := 0
	got, err := pool.ReduceByKey(testenv.Context(t), p, funcs.WordCounts, texts, pool.Progress(func(int, int) { chunks++ }))
	if err != nil {
		t.Fatal(err)
	}
	if want := serialWordCount(texts); !mapsEqual(got, want) {
		t.Fatalf("ReduceByKey: %d words, want %d (serial)", len(got), len(want))
	}
	if chunks < 16 {
		t.Fatalf("%d chunks for %d texts of %d bytes on 2 slots, want at least 16", chunks, len(texts), len(texts[0]))
	}
	t.Logf("%d chunks", chunks)
}
