package cluster

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// sharedWorkerEnv makes the test binary a worker process: "SLOTS ADDR
// [KEYFILE]". sharedDriftEnv makes it register test.shared.drift with
// another shared type, as a binary built from another version would.
const (
	sharedWorkerEnv = "CLUSTER_TEST_SHARED_WORKER"
	sharedDriftEnv  = "CLUSTER_TEST_SHARED_DRIFT"
	sharedCacheEnv  = "CLUSTER_TEST_SHARED_CACHE" // the worker's shared_cache_bytes
	sharedMarkEnv   = "CLUSTER_TEST_SHARED_MARK"  // a file that a delayed item creates when it starts
)

// sharedSeen is what an item saw of its shared value: its length, a
// digest of all of it, and where it lives (process and address), which
// tells how many times a worker decoded it.
type sharedSeen struct {
	Len         int
	Digest, Ptr uint64
	Pid         int
	Delayed     bool
}

var sharedProbe = pool.RegisterWith("test.shared.probe", func(_ context.Context, model []byte, delay int) (sharedSeen, error) {
	if delay > 0 {
		if mark := os.Getenv(sharedMarkEnv); mark != "" {
			os.WriteFile(mark, nil, 0o644)
		}
		time.Sleep(time.Duration(delay) * time.Millisecond)
	}
	return sharedSeen{Len: len(model), Digest: digestOnce(model), Ptr: uint64(uintptr(unsafe.Pointer(unsafe.SliceData(model)))),
		Pid: os.Getpid(), Delayed: delay > 0}, nil
})

// digests memoizes digestOnce by the value's address: a worker digests
// each decoded copy once, not per item.
var digests sync.Map

func digestOnce(b []byte) uint64 {
	p := unsafe.SliceData(b)
	if d, ok := digests.Load(p); ok {
		return d.(uint64)
	}
	d := digest(b)
	digests.Store(p, d)
	return d
}

func digest(b []byte) uint64 {
	sum := sha256.Sum256(b)
	return binary.LittleEndian.Uint64(sum[:])
}

// sharedDrift takes a []byte shared value, or a string in a drifted worker.
var sharedDrift = registerSharedDrift()

func registerSharedDrift() pool.FuncWith[[]byte, int, int] {
	if os.Getenv(sharedDriftEnv) != "" {
		pool.RegisterWith("test.shared.drift", func(_ context.Context, s string, i int) (int, error) { return len(s) + i, nil })
		return pool.FuncWith[[]byte, int, int]{}
	}
	return pool.RegisterWith("test.shared.drift", func(_ context.Context, s []byte, i int) (int, error) { return len(s) + i, nil })
}

func sharedWorkerProcess(spec string) int {
	f := strings.Fields(spec)
	slots, _ := strconv.Atoi(f[0])
	client := config.Client{JobServers: []string{f[1]}}
	if len(f) > 2 {
		client.KeyFile = f[2]
	}
	cacheBytes, _ := strconv.Atoi(os.Getenv(sharedCacheEnv))
	w, err := NewWorker(client, config.Worker{Slots: slots, SharedCacheBytes: cacheBytes}, WithLogger(newLogger(os.Stderr, slog.LevelError)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("serving")
	if err := w.Run(); err != nil && !errors.Is(err, ErrWorkerClosed) {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startSharedWorker runs a worker process and waits until it serves
// test.shared.probe.
func startSharedWorker(t *testing.T, slots int, addr, keyFile string, env ...string) *exec.Cmd {
	t.Helper()
	cmd, out := testenv.Subprocess(t, append(env, fmt.Sprintf("%s=%d %s %s", sharedWorkerEnv, slots, addr, keyFile))...)
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "serving" {
		t.Fatalf("worker process did not start: %v", sc.Err())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return cmd
}

// randomBytes is n bytes of a seeded random stream.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	r.Read(b)
	return b
}

// waitServed waits until slots slots serve fn at the job server.
func waitServed(t *testing.T, ctx context.Context, p *pool.Pool, fn string, slots int) {
	t.Helper()
	testenv.Eventually(t, ctx, fmt.Sprintf("%d slots serving %s", slots, fn), func() (bool, error) {
		n, _ := p.WorkerSlots(ctx, fn) // ErrNoWorkers until they register
		return n >= slots, nil
	})
}

// TestSharedValueOncePerWorker: a 50 MB shared value reaches every item
// of a 40-chunk map whole, but the job server gets it about once per
// worker process (counted by a TCP proxy between the pool and gearmand),
// not once per chunk (40 copies, 2 GB); each worker decodes it once (its
// items all see one copy); and a second map of the same value sends it
// no more: the workers keep it by its hash.
func TestSharedValueOncePerWorker(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	proxy := testenv.CountBytes(t, srv.Addr())
	const workers, slots = 2, 2
	for range workers {
		startSharedWorker(t, slots, srv.Addr(), "")
	}
	p, err := pool.New(config.Client{JobServers: []string{proxy.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitServed(t, ctx, p, sharedProbe.Name(), workers*slots)

	model := randomBytes(50<<20, 1)
	f := sharedProbe.With(model)
	items := make([]int, 10_000)
	const chunks = 40
	before := proxy.Up()
	got, err := pool.Map(ctx, p, f, items, pool.Chunksize(len(items)/chunks))
	if err != nil {
		t.Fatal(err)
	}
	copies := float64(proxy.Up()-before) / float64(len(model))
	checkSeen(t, got, model)
	t.Logf("first map: %.2f copies of the value through gearmand for %d workers, %d chunks", copies, workers, chunks)
	// One per worker (a copy goes to the worker that asked for it); per
	// chunk would be 40.
	if copies < 0.9 || copies > workers+0.5 {
		t.Errorf("the job server got %.2f copies of the shared value; want about one per worker (%d), not one per chunk (%d)", copies, workers, chunks)
	}

	// A worker that ran no chunk of the first map gets its copy now, but
	// none gets a second one: over both maps, still one per worker.
	before = proxy.Up()
	if got, err = pool.Map(ctx, p, f, items, pool.Chunksize(len(items)/chunks)); err != nil {
		t.Fatal(err)
	}
	checkSeen(t, got, model)
	again := float64(proxy.Up()-before) / float64(len(model))
	if copies+again > workers+0.5 {
		t.Errorf("a second map of the same value sent %.2f more copies (%.2f in the first): the workers should have it cached", again, copies)
	}
}

// checkSeen checks that every item saw the whole value, and that each
// worker process decoded it once (one address per process).
func checkSeen(t *testing.T, got []sharedSeen, model []byte) {
	t.Helper()
	want := digest(model)
	copies := map[int]map[uint64]bool{}
	for i, s := range got {
		if s.Len != len(model) || s.Digest != want {
			t.Fatalf("item %d saw a shared value of %d bytes, digest %x; want %d bytes, %x", i, s.Len, s.Digest, len(model), want)
		}
		if copies[s.Pid] == nil {
			copies[s.Pid] = map[uint64]bool{}
		}
		copies[s.Pid][s.Ptr] = true
	}
	for pid, ptrs := range copies {
		if len(ptrs) != 1 {
			t.Errorf("worker process %d decoded the shared value %d times; want once", pid, len(ptrs))
		}
	}
}

// TestSharedValueEvictedIsSentAgain: a worker whose shared_cache_bytes
// holds one value of two evicts the first when the second comes; a map of
// the first then sends it once more (the worker says it dropped it), and
// a map of the second sends nothing.
func TestSharedValueEvictedIsSentAgain(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	proxy := testenv.CountBytes(t, srv.Addr())
	startSharedWorker(t, 2, srv.Addr(), "", fmt.Sprintf("%s=%d", sharedCacheEnv, 6<<20))
	p, err := pool.New(config.Client{JobServers: []string{proxy.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitServed(t, ctx, p, sharedProbe.Name(), 2)
	a, b := randomBytes(4<<20, 3), randomBytes(4<<20, 4)
	fa, fb := sharedProbe.With(a), sharedProbe.With(b)
	items := make([]int, 100)
	for _, step := range []struct {
		f      pool.Func[int, sharedSeen]
		model  []byte
		copies int
	}{{fa, a, 1}, {fb, b, 1}, {fa, a, 1}, {fa, a, 0}} {
		before := proxy.Up()
		got, err := pool.Map(ctx, p, step.f, items, pool.Chunksize(10))
		if err != nil {
			t.Fatal(err)
		}
		checkSeen(t, got, step.model)
		if copies := float64(proxy.Up()-before) / float64(len(step.model)); copies < float64(step.copies)-0.1 || copies > float64(step.copies)+0.5 {
			t.Errorf("map of %d copies sent %.2f", step.copies, copies)
		}
	}
}

// TestSharedValueReachesRestartedWorker: a worker killed in the middle of
// a map, with a cluster key, is replaced by a new process, which never saw
// the value: its chunks ask for it and get it, and the map completes with
// every item's value right.
func TestSharedValueReachesRestartedWorker(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	_, keyFile := testenv.KeyFile(t)
	first := startSharedWorker(t, 1, srv.Addr(), keyFile)
	p, err := pool.New(config.Client{JobServers: []string{srv.Addr()}, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitServed(t, ctx, p, sharedProbe.Name(), 1)

	model := randomBytes(4<<20, 2)
	items := make([]int, 40)
	for i := range items {
		items[i] = 20 // ms
	}
	var done atomic.Int64
	halfway := make(chan struct{})
	var once sync.Once
	progress := pool.Progress(func(n, _ int) {
		if done.Store(int64(n)); n >= 10 {
			once.Do(func() { close(halfway) })
		}
	})
	type result struct {
		got []sharedSeen
		err error
	}
	res := make(chan result, 1)
	go func() {
		got, err := pool.Map(ctx, p, sharedProbe.With(model), items, pool.Chunksize(1), pool.Window(2), progress)
		res <- result{got, err}
	}()
	select {
	case <-halfway:
	case <-ctx.Done():
		t.Fatal("the map never got halfway")
	}
	first.Process.Kill()
	first.Wait()
	second := startSharedWorker(t, 1, srv.Addr(), keyFile)
	r := <-res
	if r.err != nil {
		t.Fatalf("map across the restart: %v (%d items done before)", r.err, done.Load())
	}
	checkSeen(t, r.got, model)
	pids := map[int]int{}
	for _, s := range r.got {
		pids[s.Pid]++
	}
	if pids[second.Process.Pid] == 0 || pids[first.Process.Pid] == 0 {
		t.Errorf("items per worker process: %v; want some from the killed one (%d) and some from its replacement (%d)",
			pids, first.Process.Pid, second.Process.Pid)
	}
}

// TestSharedValueCopyHolderKilled: the worker that asked for the value
// is killed while it runs the chunk that brought its copy (its one slot
// runs that chunk first: the others wait for the copy); gearmand queues
// that chunk again under the worker's alias, where nobody will take it.
// The map notices (its silent-chunk check finds the job queued there),
// sends the chunk to the function itself, and completes on the new
// worker. It used to wait for ever.
func TestSharedValueCopyHolderKilled(t *testing.T) {
	ctx := testenv.ContextWithin(t, 30*time.Second)
	srv := testenv.Gearmand(t)
	mark := filepath.Join(t.TempDir(), "started")
	first := startSharedWorker(t, 1, srv.Addr(), "", sharedMarkEnv+"="+mark)
	p, err := pool.New(config.Client{JobServers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitServed(t, ctx, p, sharedProbe.Name(), 1)
	model := randomBytes(1<<20, 5)
	type result struct {
		got []sharedSeen
		err error
	}
	res := make(chan result, 1)
	go func() {
		got, err := pool.Map(ctx, p, sharedProbe.With(model), []int{1000, 1000, 1000}, pool.Chunksize(1),
			pool.CheckSilentChunks(200*time.Millisecond))
		res <- result{got, err}
	}()
	testenv.Eventually(t, ctx, "the first item to start", func() (bool, error) {
		_, err := os.Stat(mark)
		return err == nil, nil
	})
	first.Process.Kill()
	first.Wait()
	startSharedWorker(t, 1, srv.Addr(), "")
	r := <-res
	if r.err != nil {
		t.Fatalf("map after the worker holding its copy was killed: %v", r.err)
	}
	checkSeen(t, r.got, model)
}

// TestSharedValueTypeMismatch: a worker whose function takes another
// shared type refuses the chunks with the type mismatch error, naming
// both shapes, before running anything.
func TestSharedValueTypeMismatch(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	startSharedWorker(t, 1, srv.Addr(), "", sharedDriftEnv+"=1")
	p, err := pool.New(config.Client{JobServers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitServed(t, ctx, p, sharedDrift.Name(), 1)
	_, err = pool.Map(ctx, p, sharedDrift.With([]byte("model")), []int{1, 2, 3})
	var mm *pool.TypeMismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("map on a worker with another shared type: %v; want a *pool.TypeMismatchError", err)
	}
	if !strings.HasPrefix(mm.ClientIn, "shared([]uint8) ") || !strings.HasPrefix(mm.WorkerIn, "shared(string) ") {
		t.Errorf("mismatch %+v: want the shared types in the In shapes", mm)
	}
}

// TestSharedCacheEvictsBySize: values go least recently used first once
// their sizes add up to more than the budget; one larger than the whole
// budget is not kept; a value being loaded is waited for, not decoded
// twice.
func TestSharedCacheEvictsBySize(t *testing.T) {
	c := newSharedCache(3<<20+64, slog.New(slog.DiscardHandler))
	fn, _ := wire.Lookup(sharedProbe.Name())
	f := fn.(wire.SharedFunction)
	ref := func(i int, inline bool) wire.SharedRef {
		enc, _ := wire.Encode(randomBytes(1<<20, uint64(i)))
		r := wire.SharedRef{Hash: wire.HashShared(enc), Shape: f.SharedShape()}
		if inline {
			r.Value = enc
		}
		return r
	}
	put := func(i int) {
		e, owner, _ := c.begin(ref(i, true))
		if owner {
			c.load(e, f, ref(i, true).Value, true)
		}
		if _, err := e.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	has := func(i int) bool {
		e, _, _ := c.begin(ref(i, false))
		return e != nil
	}
	put(1)
	put(2)
	put(3)
	if !has(1) { // 1 is now the most recently used
		t.Fatal("value 1 gone with 3 MiB used of 3 MiB")
	}
	put(4) // over the budget: 2, the least recently used, goes
	if has(2) || !has(1) || !has(3) || !has(4) {
		t.Errorf("after a fourth value: has 1 %v, 2 %v, 3 %v, 4 %v; want 2 evicted", has(1), has(2), has(3), has(4))
	}
	if n, used, decodes := c.stats(); n != 3 || used > 3<<20+64 || decodes != 4 {
		t.Errorf("cache holds %d values, %d bytes, after %d decodes; want 3, <= 3 MiB, 4", n, used, decodes)
	}

	// A value being loaded: a second chunk waits for it.
	r5 := ref(5, true)
	e, owner, _ := c.begin(r5)
	again, owner2, _ := c.begin(r5)
	if !owner || owner2 || again != e {
		t.Fatalf("a value being loaded: owner %v, second owner %v, same entry %v", owner, owner2, again == e)
	}
	go c.load(e, f, r5.Value, true)
	if v, err := again.wait(context.Background()); err != nil || len(v.([]byte)) != 1<<20 {
		t.Fatalf("waited for a load: %v", err)
	}

	big := newSharedCache(1<<20, slog.New(slog.DiscardHandler))
	r6 := ref(6, true) // 1 MiB and its encoding's header: over the budget
	e, _, _ = big.begin(r6)
	big.load(e, f, r6.Value, true)
	if v, err := e.wait(context.Background()); err != nil || v == nil {
		t.Fatalf("a value over the budget still serves its chunk: %v", err)
	}
	if n, used, _ := big.stats(); n != 0 || used != 0 {
		t.Errorf("a value over the budget was kept: %d values, %d bytes", n, used)
	}
}

// TestSharedCacheRefusesMismatchedValue: without a cluster key, a value
// that does not match the hash its chunk names (corrupt, or meant to
// poison the cache for another map's value) is refused, and not kept.
func TestSharedCacheRefusesMismatchedValue(t *testing.T) {
	c := newSharedCache(1<<20, slog.New(slog.DiscardHandler))
	fn, _ := wire.Lookup(sharedProbe.Name())
	f := fn.(wire.SharedFunction)
	real, _ := wire.Encode([]byte("the real table"))
	forged, _ := wire.Encode([]byte("a forged table"))
	ref := wire.SharedRef{Hash: wire.HashShared(real), Shape: f.SharedShape(), Value: forged}
	e, owner, _ := c.begin(ref)
	if !owner {
		t.Fatal("first chunk of a value is not its owner")
	}
	c.load(e, f, forged, true)
	var he *wire.SharedHashError
	if _, err := e.wait(context.Background()); !errors.As(err, &he) {
		t.Fatalf("a value under another's hash: %v; want a *wire.SharedHashError", err)
	}
	ref.Value = nil
	if e, _, dropped := c.begin(ref); e != nil || !dropped {
		t.Errorf("after the refusal the cache has the value: %v (dropped %v)", e != nil, dropped)
	}
}

// TestSharedValueSealedWithTheChunk: under a cluster key the shared value
// is inside what the key seals: the same sealed chunk that runs is refused,
// before anything of it is decoded or kept, once one byte of its inline
// value is changed on the way.
func TestSharedValueSealedWithTheChunk(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	key, keyFile := testenv.KeyFile(t)
	startSharedWorker(t, 1, srv.Addr(), keyFile)
	fn, _ := wire.Lookup(sharedProbe.Name())
	waitWorker(t, ctx, srv.Addr(), fn.GearmanName())
	client := newClient(t, ctx, srv.Addr())

	value, _ := wire.Encode([]byte("the table"))
	ref := wire.SharedRef{Hash: wire.HashShared(value), Shape: fn.(wire.SharedFunction).SharedShape(), Value: value}
	in, out := sharedProbe.With(nil).Shapes()
	chunk, _ := wire.Encode(wire.ChunkRequest[int]{Items: []int{0}, InType: in, OutType: out})
	sealed := func(unique string, tamper bool) []byte {
		frame := make([]byte, auth.FrameOverhead+wire.SharedHeaderSize(ref)+len(chunk))
		copy(wire.PutSharedHeader(frame[auth.FrameOverhead:], ref), chunk)
		wire.SealChunkInPlace(key, frame, fn.GearmanName(), unique)
		if tamper {
			frame[len(frame)-len(chunk)-1] ^= 1 // the value's last byte
		}
		return frame
	}
	if _, err := client.Call(ctx, fn.GearmanName(), sealed("0123456789abcdef-1", false), gearman.WithUnique("0123456789abcdef-1")); err != nil {
		t.Fatalf("the sealed chunk as sent: %v", err)
	}
	_, err := client.Call(ctx, fn.GearmanName(), sealed("0123456789abcdef-2", true), gearman.WithUnique("0123456789abcdef-2"))
	var ex *gearman.JobException
	if !errors.As(err, &ex) || !strings.Contains(string(ex.Data), "chunk refused") {
		t.Fatalf("the sealed chunk with its shared value changed: %v; want it refused by the key check", err)
	}
}
