package cluster

import (
	"context"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/clustertest"
	"github.com/glimpse-go/glimpse/pool"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(bigWorkerEnv); addr != "" {
		os.Exit(bigWorkerProcess(addr))
	}
	if spec := os.Getenv(sharedWorkerEnv); spec != "" {
		os.Exit(sharedWorkerProcess(spec))
	}
	goleak.VerifyTestMain(m)
}

// The shared helpers, under the names the tests use.
var exampleGearmanNames = clustertest.ExampleGearmanNames

func waitWorker(t *testing.T, ctx context.Context, addr string, functions ...string) gearman.WorkerInfo {
	t.Helper()
	return clustertest.WaitWorker(t, ctx, addr, functions...)
}

func checkSquares(t *testing.T, ctx context.Context, pl *pool.Pool) {
	t.Helper()
	clustertest.CheckSquares(t, ctx, pl)
}

func newClient(t *testing.T, ctx context.Context, addrs ...string) *gearman.Client {
	t.Helper()
	return clustertest.NewClient(t, ctx, addrs...)
}

type fakeFunc = clustertest.FakeFunc

type testWriter = clustertest.LogWriter

func processGone(pid int) bool { return clustertest.ProcessGone(pid) }
