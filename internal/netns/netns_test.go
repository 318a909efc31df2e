package netns_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/cli"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/netns"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		cli.Main() // glimpse-cluster, with os.Args as its command line
		return
	}
	goleak.VerifyTestMain(m)
}

// hostSquare is slowSquare's result: the square, and the host that
// computed it.
type hostSquare struct {
	Square int64
	Host   string
}

// itemTimeEnv sets how long slowSquare takes per item on a worker
// process; the default is slowItem.
const itemTimeEnv = "GLIMPSE_NETNS_ITEM_TIME"

// slowItem is how long slowSquare takes per item by default: long enough
// that a worker host holds its chunks for a while, short enough for a
// quick test.
const slowItem = 50 * time.Millisecond

// slowSquare is x*x, slowly, labelled with the worker's host. It prints
// "start X" on the worker's stdout, so that the test sees which host
// holds which item.
var slowSquare = pool.Register("netnstest.slowsquare", func(ctx context.Context, x int64) (hostSquare, error) {
	fmt.Printf("start %d\n", x)
	d := slowItem
	if v := os.Getenv(itemTimeEnv); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return hostSquare{}, fmt.Errorf("$%s: %w", itemTimeEnv, err)
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return hostSquare{}, ctx.Err()
	}
	return hostSquare{Square: x * x, Host: os.Getenv(hostEnv)}, nil
})

// TestClusterScript checks what the script makes: a namespace per host
// with its address, nothing in the root namespace, partition and heal on
// the host's switch port, and a clean, repeatable teardown.
func TestClusterScript(t *testing.T) {
	if err := netns.Supported(); err != nil {
		t.Skipf("skipping: %v (it needs root with CAP_SYS_ADMIN and iproute2)", err)
	}
	before := rootNetwork(t)
	c := upCluster(t)
	if after := rootNetwork(t); after != before {
		t.Errorf("the root namespace changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	want := []string{"gearmand", "broker", "w1", "w2", "w3", "client"}
	if !slices.Equal(c.Hosts(), want) {
		t.Fatalf("hosts %v, want %v", c.Hosts(), want)
	}
	if w := c.WorkerHosts(); !slices.Equal(w, []string{"w1", "w2", "w3"}) {
		t.Fatalf("worker hosts %v", w)
	}
	seen := map[string]bool{}
	for _, h := range c.Hosts() {
		addr := c.Addr(h)
		if addr == "" || seen[addr] || c.HostOf(addr) != h {
			t.Fatalf("host %s: address %q (seen: %v)", h, addr, seen)
		}
		seen[addr] = true
		out, err := c.Command(h, "ip", "-o", "-4", "addr", "show", "dev", "eth0").CombinedOutput()
		if err != nil || !strings.Contains(string(out), " "+addr+"/24 ") {
			t.Errorf("host %s: eth0 should have %s/24: %v\n%s", h, addr, err, out)
		}
	}
	for _, key := range []string{"job_server_url = " + c.Addr("gearmand") + ":4730", "tcp://" + c.Addr("broker") + ":9003"} {
		if !strings.Contains(c.Config(), key) {
			t.Errorf("config lacks %q:\n%s", key, c.Config())
		}
	}
	if err := c.Command("nohost", "true").Run(); err == nil || !strings.Contains(err.Error(), `unknown host "nohost"`) {
		t.Errorf("a command on an unknown host: %v", err)
	}

	port := func() string {
		out, err := exec.Command("ip", "-n", c.Namespace("switch"), "-o", "link", "show", "dev", "w2").CombinedOutput()
		if err != nil {
			t.Fatalf("switch port of w2: %v\n%s", err, out)
		}
		return string(out)
	}
	if err := c.Partition("w2"); err != nil {
		t.Fatal(err)
	}
	if p := port(); !strings.Contains(p, "state DOWN") {
		t.Errorf("after Partition the switch port of w2 is %s", p)
	}
	if err := c.Heal("w2"); err != nil {
		t.Fatal(err)
	}
	if p := port(); strings.Contains(p, "state DOWN") {
		t.Errorf("after Heal the switch port of w2 is %s", p)
	}
	if err := c.Partition("nohost"); err == nil {
		t.Error("Partition of an unknown host succeeded")
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, h := range append(c.Hosts(), "switch") {
		if _, err := os.Stat("/run/netns/" + c.Namespace(h)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace %s is still there after Close (%v)", c.Namespace(h), err)
		}
	}
	if after := rootNetwork(t); after != before {
		t.Errorf("the root namespace changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// rootNetwork describes the root namespace's links, addresses and routes.
func rootNetwork(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{{"-o", "link"}, {"-o", "addr"}, {"route"}, {"-6", "route"}} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		b.Write(out)
	}
	return b.String()
}

// TestUnsupported: without an ip command, Up says namespaces are not
// available (what the other tests skip on) and makes nothing.
func TestUnsupported(t *testing.T) {
	t.Setenv(netns.IPEnv, "/nonexistent/ip")
	c, err := netns.Up(context.Background(), netns.NewPrefix(prefixTag))
	if !errors.Is(err, netns.ErrUnsupported) || !strings.Contains(err.Error(), "/nonexistent/ip") {
		t.Fatalf("Up without ip: %v, %v; want ErrUnsupported naming the binary", c, err)
	}
	if _, err := netns.Up(context.Background(), "bad-prefix"); err == nil || errors.Is(err, netns.ErrUnsupported) {
		t.Fatalf("Up with a bad prefix: %v", err)
	}
	// The script says so with its own exit status, which Up turns into
	// ErrUnsupported too.
	cmd := exec.Command("bash", "../../scripts/netns-cluster.sh", "up", netns.NewPrefix(prefixTag))
	cmd.Env = append(os.Environ(), "IP=/nonexistent/ip")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(string(out), "network namespaces cannot be made here") {
		t.Fatalf("netns-cluster.sh up without ip: %v, want exit status 3 and a reason\n%s", err, out)
	}
}

// TestMapAcrossHosts: gearmand, broker and fanout, and workers on three
// hosts; a map runs across all of them, and every worker answers ping
// through the fanout worker and through the broker.
func TestMapAcrossHosts(t *testing.T) {
	t.Parallel()
	c := clientHost(t)
	if c == nil {
		return // ran inside the client host
	}
	ctx := testenv.Context(t)
	tc := startCluster(t, c, 2, nil)
	admin := dialAdmin(t, ctx, tc.gearmand)
	hosts, err := tc.workerHosts(ctx, admin, "glimpse.examples.square")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(hosts, []string{"w1", "w2", "w3"}) {
		t.Fatalf("gearmand lists workers from %v, want w1, w2 and w3", hosts)
	}

	p, err := pool.FromConfigFile(tc.configPath)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// The workers subscribe to the fanout topic as they start.
	testenv.Eventually(t, ctx, "every worker answering pool.Ping", func() (bool, error) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		stats, err := p.Ping(pctx)
		return len(stats) == len(tc.workers), err
	})

	const n = 100_000
	items := make([]int64, n)
	for i := range items {
		items[i] = int64(i) - n/2
	}
	got, err := pool.Map(ctx, p, funcs.Square, items)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d results for %d items", len(got), n)
	}
	for i, x := range items {
		if got[i] != x*x {
			t.Fatalf("result %d is %d, want %d", i, got[i], x*x)
		}
	}
	mapLargeItemsDirect(t, ctx, p)
	mapLargeItemsFallBack(t, ctx, tc.configPath)

	pids := tc.workerPIDs()
	for _, via := range []string{"fanout", "zmq"} {
		var answers map[int]int64
		// Over zmq a reply that is published before the client's
		// subscription reaches the broker is lost: ask again until all
		// are heard.
		testenv.Eventually(t, ctx, "every worker answering glimpse-cluster ping -via "+via, func() (bool, error) {
			answers, err = tc.pingPIDs(t, ctx, "-via", via)
			return len(answers) == len(pids), err
		})
		served := map[string]int64{}
		for pid, nreqs := range answers {
			h, ok := pids[pid]
			if !ok {
				t.Fatalf("ping -via %s: pid %d is none of the workers %v", via, pid, pids)
			}
			served[h] += nreqs
		}
		t.Logf("ping -via %s: chunks served per host: %v", via, served)
		if via == "fanout" {
			busy := 0
			for _, nreqs := range served {
				if nreqs > 0 {
					busy++
				}
			}
			if busy < 2 {
				t.Errorf("the map's chunks went to %d host(s) (%v), want at least 2", busy, served)
			}
		}
	}
	tc.stopAll(t, ctx)
}

// mapLargeItemsDirect maps large items across the hosts: the workers
// fetch them from the pool and send their results back over the direct
// path (the pool's address on its route to gearmand's host), byte for
// byte, with no chunk falling back to the job server.
func mapLargeItemsDirect(t *testing.T, ctx context.Context, p *pool.Pool) {
	t.Helper()
	in := testenv.Blobs(12, 1<<20, 3)
	out, err := pool.Map(ctx, p, funcs.Identity, in, pool.Chunksize(2))
	if err != nil {
		t.Fatal(err)
	}
	testenv.SameBlobs(t, in, out)
	if st := p.Stats(); st.DirectChunks != 6 || st.DirectFallbacks != 0 {
		t.Fatalf("large items across hosts: %d chunks came back by the direct path, %d fell back; want 6 and 0", st.DirectChunks, st.DirectFallbacks)
	}
}

// mapLargeItemsFallBack maps large items from a pool whose direct-path
// address the worker hosts cannot reach (its loopback, which is each
// host's own): the glimpse-cluster workers answer that they cannot fetch
// the chunk, and the pool sends it through gearmand instead, byte for
// byte.
func mapLargeItemsFallBack(t *testing.T, ctx context.Context, configPath string) {
	t.Helper()
	p, err := pool.FromConfigFile(configPath, pool.WithDirectDataAddress("127.0.0.1"), pool.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	in := testenv.Blobs(12, 1<<20, 4)
	out, err := pool.Map(ctx, p, funcs.Identity, in, pool.Chunksize(2))
	if err != nil {
		t.Fatal(err)
	}
	testenv.SameBlobs(t, in, out)
	if st := p.Stats(); st.DirectChunks != 0 || st.DirectFallbacks == 0 {
		t.Fatalf("large items offered on the client's loopback: %d chunks came back by the direct path, %d fell back; want none and some", st.DirectChunks, st.DirectFallbacks)
	}
}

// TestPartitionedWorkerHost cuts a worker host off the network while it
// runs chunks of a map: gearmand notices (TCP keepalive), gives the chunks
// to the other hosts, and the map completes, every item once. After the
// host is connected again its worker comes back and serves.
func TestPartitionedWorkerHost(t *testing.T) {
	t.Parallel()
	c := clientHost(t)
	if c == nil {
		return // ran inside the client host
	}
	ctx := testenv.Context(t)
	const cut = "w2"
	// The host to cut runs long items: it is cut off in the middle of a
	// chunk, with nothing in flight between it and gearmand, the common
	// case (a dead peer with data in flight is tcp_retries2's business).
	tc := startCluster(t, c, 2, map[string][]string{cut: {itemTimeEnv + "=1s"}})
	admin := dialAdmin(t, ctx, tc.gearmand)
	p, err := pool.FromConfigFile(tc.configPath)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	function := wire.GearmanPrefix + "netnstest.slowsquare"

	// 150 chunks of 2 items: about 2s of work for the other 4 slots.
	const n = 300
	type result struct {
		results []pool.Indexed[hostSquare]
		err     error
	}
	mapped := make(chan result, 1)
	go func() {
		var r result
		for v, err := range pool.ImapUnordered(ctx, p, slowSquare, seq(n), pool.Chunksize(2)) {
			if err != nil {
				r.err = err
				break
			}
			r.results = append(r.results, v)
		}
		mapped <- r
	}()
	// Every worker host holds chunks, and gearmand has nothing on its way
	// to the host to cut (its job assignments have been acknowledged).
	for h, w := range tc.workers {
		if _, err := w.stdout.Await(ctx, func(s string) bool { return strings.Contains(s, "start ") }, nil); err != nil {
			t.Fatalf("worker host %s never started a chunk", h)
		}
	}
	testenv.Eventually(t, ctx, "gearmand's data to "+cut+" all acknowledged", func() (bool, error) {
		n, err := unacked(c, "gearmand", cut)
		return n == 0, err
	})
	if err := c.Partition(cut); err != nil {
		t.Fatal(err)
	}
	cutAt := time.Now()
	testenv.Eventually(t, ctx, "gearmand dropping the worker on "+cut, func() (bool, error) {
		hosts, err := tc.workerHosts(ctx, admin, function)
		return err == nil && !slices.Contains(hosts, cut), err
	})
	t.Logf("gearmand dropped the worker on %s %v after it was cut off", cut, time.Since(cutAt).Round(10*time.Millisecond))

	var r result
	select {
	case r = <-mapped:
	case <-ctx.Done():
		t.Fatalf("the map did not complete after %s was cut off: %v", cut, ctx.Err())
	}
	t.Logf("the map completed %v after %s was cut off", time.Since(cutAt).Round(10*time.Millisecond), cut)
	if r.err != nil {
		t.Fatal(r.err)
	}
	byIndex := make([]hostSquare, n)
	seen := make([]bool, n)
	perHost := map[string]int{}
	for _, v := range r.results {
		if v.Index < 0 || v.Index >= n || seen[v.Index] {
			t.Fatalf("result for index %d: out of range or given twice", v.Index)
		}
		seen[v.Index] = true
		if want := int64(v.Index) * int64(v.Index); v.Value.Square != want {
			t.Fatalf("result %d is %d, want %d", v.Index, v.Value.Square, want)
		}
		byIndex[v.Index] = v.Value
		perHost[v.Value.Host]++
	}
	if len(r.results) != n {
		t.Fatalf("%d results for %d items", len(r.results), n)
	}
	// The items the cut-off host had started and never delivered were
	// computed again elsewhere.
	var redone []int
	for _, x := range startedItems(t, tc.workers[cut].stdout.String()) {
		if byIndex[x].Host != cut {
			redone = append(redone, x)
		}
	}
	t.Logf("items per host: %v; items %s started and another host delivered: %v", perHost, cut, redone)
	if len(redone) == 0 {
		t.Errorf("no item that %s started was redone elsewhere: it held no chunk when it was cut off?", cut)
	}
	hosts, err := tc.workerHosts(ctx, admin, function)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(hosts, cut) {
		t.Errorf("gearmand still lists a worker on %s after giving its chunks away", cut)
	}

	if err := c.Heal(cut); err != nil {
		t.Fatal(err)
	}
	healedAt := time.Now()
	testenv.Eventually(t, ctx, "the worker on "+cut+" in gearmand's workers again", func() (bool, error) {
		hosts, err := tc.workerHosts(ctx, admin, function)
		return slices.Contains(hosts, cut), err
	})
	t.Logf("the worker on %s reconnected %v after the heal", cut, time.Since(healedAt).Round(10*time.Millisecond))

	// It serves again: a map with a chunk for every slot and more.
	got, err := pool.Map(ctx, p, slowSquare, slices.Collect(seq(36)), pool.Chunksize(1))
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]int{}
	for i, v := range got {
		if v.Square != int64(i*i) {
			t.Fatalf("after the heal: result %d is %d", i, v.Square)
		}
		served[v.Host]++
	}
	t.Logf("after the heal, items per host: %v", served)
	if served[cut] == 0 {
		t.Errorf("after the heal %s served nothing: %v", cut, served)
	}
	// Broadcast commands reach it again, over the broker and through the
	// fanout worker. Its command queue's connection was idle when gearmand
	// dropped it: the worker learns that from its TCP keepalive.
	pids := tc.workerPIDs()
	for _, via := range []string{"zmq", "fanout"} {
		var missing error // who did not answer, kept past the ping that ctx's end kills
		testenv.Eventually(t, ctx, "every worker answering ping -via "+via+" after the heal", func() (bool, error) {
			answers, err := tc.pingPIDs(t, ctx, "-via", via)
			if err != nil && ctx.Err() != nil && missing != nil {
				return false, missing
			}
			if err == nil && len(answers) != len(pids) {
				missing = fmt.Errorf("answered: %v; worker pids: %v", slices.Sorted(maps.Keys(answers)), pids)
				err = missing
			}
			return err == nil, err
		})
		t.Logf("every worker answered ping -via %s %v after the heal", via, time.Since(healedAt).Round(10*time.Millisecond))
	}
	tc.stopAll(t, ctx)
}

// seq yields 0..n-1.
func seq(n int) iter.Seq[int64] {
	return func(yield func(int64) bool) {
		for i := range int64(n) {
			if !yield(i) {
				return
			}
		}
	}
}

// startedItems reads slowSquare's "start X" lines.
func startedItems(t *testing.T, stdout string) []int {
	t.Helper()
	var xs []int
	for line := range strings.Lines(stdout) {
		s, ok := strings.CutPrefix(strings.TrimSpace(line), "start ")
		if !ok {
			continue
		}
		x, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("worker printed %q", line)
		}
		xs = append(xs, x)
	}
	return xs
}
