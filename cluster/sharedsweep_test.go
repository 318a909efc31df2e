package cluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// TestSharedValueOrphanedCopyIsSwept: the worker that asked for a 32 MB
// shared value is killed (SIGKILL) while it runs the chunk that brought
// its copy; gearmand queues that job again under the worker's alias,
// which nobody else serves. Whether the map then completes on a new
// worker or is cancelled, the pool sweeps the job: gearmand's admin
// status shows nothing queued under the alias, and gearmand's memory
// goes back down. Before, the job, 32 MB of gearmand's memory, stayed
// queued for ever.
func TestSharedValueOrphanedCopyIsSwept(t *testing.T) {
	for _, how := range []string{"completed", "cancelled"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			orphanAndSweep(t, how == "cancelled")
		})
	}
}

func orphanAndSweep(t *testing.T, cancel bool) {
	ctx := testenv.ContextWithin(t, 60*time.Second)
	srv := testenv.Gearmand(t)
	mark := filepath.Join(t.TempDir(), "started")
	first := startSharedWorker(t, 1, srv.Addr(), "", sharedMarkEnv+"="+mark)
	p, err := pool.New(config.Client{JobServers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitServed(t, ctx, p, sharedProbe.Name(), 1)
	rssBefore := vmRSS(t, srv.Pid())
	const size = 32 << 20
	model := randomBytes(size, 7)
	mapCtx, cancelMap := context.WithCancel(ctx)
	defer cancelMap()
	res := make(chan error, 1)
	go func() {
		_, err := pool.Map(mapCtx, p, sharedProbe.With(model), []int{1000, 1000, 1000}, pool.Chunksize(1),
			pool.CheckSilentChunks(200*time.Millisecond))
		res <- err
	}()
	testenv.Eventually(t, ctx, "the first item to start", func() (bool, error) {
		_, err := os.Stat(mark)
		return err == nil, nil
	})
	first.Process.Kill()
	first.Wait()
	alias := waitAliasQueued(t, ctx, srv.Addr(), sharedProbe.Name())
	rssOrphan := vmRSS(t, srv.Pid())
	if cancel {
		cancelMap()
		if err := <-res; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled map: %v, want context.Canceled", err)
		}
	} else {
		startSharedWorker(t, 1, srv.Addr(), "")
		if err := <-res; err != nil {
			t.Fatalf("map after the worker holding its copy was killed: %v", err)
		}
	}
	testenv.Eventually(t, ctx, "the copy under "+alias+" to be swept", func() (bool, error) {
		st, err := functionStatus(ctx, srv.Addr(), alias)
		return err == nil && st.Queued == 0, err
	})
	rssAfter := vmRSS(t, srv.Pid())
	t.Logf("gearmand RSS: %d KiB before the map, %d KiB with the copy orphaned, %d KiB after the sweep", rssBefore>>10, rssOrphan>>10, rssAfter>>10)
	if rssAfter > rssOrphan-size/2 {
		t.Errorf("gearmand's RSS went from %d KiB (copy orphaned) to %d KiB after the sweep: want %d KiB less", rssOrphan>>10, rssAfter>>10, size>>11)
	}
}

// waitAliasQueued waits for a job queued, not running, under a worker's
// alias of fn (its worker was killed holding it) and returns the alias.
func waitAliasQueued(t *testing.T, ctx context.Context, addr, fn string) string {
	t.Helper()
	var alias string
	testenv.Eventually(t, ctx, "a copy queued under a worker's alias", func() (bool, error) {
		all, err := statusAll(ctx, addr)
		for _, st := range all {
			if strings.HasPrefix(st.Name, "glimpse."+fn+"@") && st.Queued > st.Running && st.Workers == 0 {
				alias = st.Name
			}
		}
		return alias != "", err
	})
	return alias
}

func statusAll(ctx context.Context, addr string) ([]gearman.FunctionStatus, error) {
	a, err := gearman.DialAdmin(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	return a.Status(ctx)
}

func functionStatus(ctx context.Context, addr, fn string) (gearman.FunctionStatus, error) {
	all, err := statusAll(ctx, addr)
	for _, st := range all {
		if st.Name == fn {
			return st, err
		}
	}
	return gearman.FunctionStatus{Name: fn}, err
}

// vmRSS is a process's resident memory in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}
