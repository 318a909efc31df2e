package netns_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/gearmand"
	"github.com/glimpse-go/glimpse/internal/netns"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// jobServerHosts run a gearmand each in TestTwoJobServersShareChunks.
var jobServerHosts = []string{"gearmand", "broker"}

// TestTwoJobServersShareChunks checks what docs/SCALING.md's sizing of
// several job servers rests on: with two job servers on two hosts and a
// worker process on each worker host connected to both, the chunks of one
// map spread over both servers (the client picks a server by a hash of the
// chunk's unique id), so that each carries about half of the map's
// traffic; and the map's results are right.
func TestTwoJobServersShareChunks(t *testing.T) {
	t.Parallel()
	c := clientHost(t)
	if c == nil {
		return // ran inside the client host
	}
	ctx := testenv.Context(t)
	tc := startTwoServers(t, c)
	p, err := pool.FromConfigFile(tc.configPath)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	const n = 3000 // one chunk each
	items := make([]int64, n)
	for i := range items {
		items[i] = int64(i)
	}
	before := serverBytes(t, c)
	got, err := pool.Map(ctx, p, funcs.Square, items, pool.Chunksize(1))
	if err != nil {
		t.Fatal(err)
	}
	after := serverBytes(t, c)
	for i, x := range items {
		if got[i] != x*x {
			t.Fatalf("result %d is %d, want %d", i, got[i], x*x)
		}
	}
	var total int64
	moved := map[string]int64{}
	for _, h := range jobServerHosts {
		moved[h] = after[h] - before[h]
		total += moved[h]
	}
	t.Logf("bytes through each job server for %d one-item chunks: %v", n, moved)
	for _, h := range jobServerHosts {
		// 3,000 chunks picked by a hash: a share off by 15 points would
		// be over 15 standard deviations.
		if share := float64(moved[h]) / float64(total); share < 0.35 || share > 0.65 {
			t.Errorf("job server on host %s carried %.0f%% of the map's bytes (%v), want about half", h, 100*share, moved)
		}
	}
	// The workers drain and exit 0 (the gearmands are killed in cleanup).
	for h, w := range tc.workers {
		if code := w.stop(t, ctx); code != 0 {
			t.Errorf("worker on %s exited with status %d after SIGTERM; stderr:\n%s", h, code, lastLines(w.stderr.String(), 20))
		}
	}
}

// startTwoServers starts a gearmand on each of jobServerHosts and a worker
// process (2 slots) on each worker host, configured with both servers,
// and waits until every server lists a worker from every worker host.
func startTwoServers(t *testing.T, c *netns.Cluster) *testCluster {
	t.Helper()
	ctx := testenv.Context(t)
	dir := t.TempDir()
	bin, err := exec.LookPath("gearmand")
	if err != nil {
		bin = "/usr/sbin/gearmand"
		if _, err := os.Stat(bin); err != nil {
			t.Fatal(gearmand.ErrNotInstalled)
		}
	}
	tc := &testCluster{c: c, configPath: filepath.Join(dir, "config.ini"), workers: map[string]*proc{}}
	var addrs []string
	for _, h := range jobServerHosts {
		addrs = append(addrs, c.Addr(h)+":"+gearmandPort)
		start(t, h+" gearmand", c.Command(h, bin, "--listen="+c.Addr(h), "--port="+gearmandPort,
			"--log-file="+filepath.Join(dir, h+".log"), "--pid-file="+filepath.Join(dir, h+".pid"),
			"--config-file="+os.DevNull, "--verbose=ERROR"))
	}
	cfg := fmt.Sprintf("[client]\njob_server_url = %s\n[worker]\nlog_level = error\n", strings.Join(addrs, ","))
	if err := os.WriteFile(tc.configPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, h := range c.WorkerHosts() {
		tc.workers[h] = tc.start(t, h, nil, "worker", "-n", "2")
	}
	for _, addr := range addrs {
		admin := dialAdmin(t, ctx, addr)
		testenv.Eventually(t, ctx, "a worker from each worker host on "+addr, func() (bool, error) {
			hosts, err := tc.workerHosts(ctx, admin, "glimpse.examples.square")
			return len(hosts) == len(tc.workers), err
		})
	}
	return tc
}

// serverBytes is, for each job server host, what the TCP connections on
// gearmand's port have sent and received so far (ss -i in its namespace).
func serverBytes(t *testing.T, c *netns.Cluster) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	for _, h := range jobServerHosts {
		out, err := c.Command(h, "ss", "-Htin", "state", "established", "( sport = :"+gearmandPort+" )").CombinedOutput()
		if err != nil {
			t.Fatalf("ss on %s: %v\n%s", h, err, out)
		}
		for _, f := range strings.Fields(string(out)) {
			k, v, _ := strings.Cut(f, ":")
			if k != "bytes_sent" && k != "bytes_received" {
				continue
			}
			b, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("ss on %s printed %q", h, f)
			}
			m[h] += b
		}
	}
	return m
}
