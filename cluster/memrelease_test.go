package cluster

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// bigWorkerEnv makes the test binary a worker process (Slots 1) serving
// test.big (bigFunc) at the job server it names.
const bigWorkerEnv = "CLUSTER_TEST_BIG_WORKER"

// bigFunc answers a chunk with 48 MiB made of its payload.
var bigFunc = fakeFunc{FuncName: "test.big", Run: func(_ context.Context, payload []byte, _ string) ([]byte, error) {
	out := make([]byte, 48<<20)
	for i := range out {
		out[i] = payload[i%len(payload)]
	}
	return out, nil
}}

func bigWorkerProcess(addr string) int {
	w, err := NewWorker(config.Client{JobServers: []string{addr}}, config.Worker{Slots: 1},
		WithFunctions(bigFunc), WithLogger(newLogger(os.Stderr, slog.LevelWarn)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := w.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestWorkerReleasesMemoryAfterLargeChunks: after chunks of 8 MiB with
// 48 MiB results, a worker process's RSS comes back near where it was
// within a few seconds (it stayed hundreds of MB up: nothing runs a GC in
// an idle worker).
func TestWorkerReleasesMemoryAfterLargeChunks(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	cmd, _ := testenv.Subprocess(t, bigWorkerEnv+"="+srv.Addr())
	waitWorker(t, ctx, srv.Addr(), "glimpse.test.big")
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	before := rssKiB(t, status)
	c := newClient(t, ctx, srv.Addr())
	for range 2 {
		res, err := c.Call(ctx, "glimpse.test.big", bytes.Repeat([]byte{1, 2, 3}, 8<<20/3))
		if err != nil || len(res) != 48<<20 || res[4] != 2 {
			t.Fatalf("the chunk: %d bytes, %v", len(res), err)
		}
	}
	during := rssKiB(t, status)
	after := during
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if after = rssKiB(t, status); after < before+16<<10 {
			break
		}
	}
	t.Logf("worker RSS before %d KiB, after the chunks %d KiB, then %d KiB", before, during, after)
	if raceDetector {
		return
	}
	if after >= before+16<<10 {
		t.Fatalf("worker RSS %d KiB 3s after the chunks, %d KiB before them: it kept the chunks' memory", after, before)
	}
}

// rssKiB reads VmRSS from a /proc/PID/status file.
func rssKiB(t *testing.T, status string) int64 {
	t.Helper()
	data, err := os.ReadFile(status)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			num, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no VmRSS in " + status)
	return 0
}
