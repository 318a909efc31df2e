package cli

import (
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// panicThree is a registered function that panics on the item 3 (named
// to sort after the examples, which TestWorkerCommandErrors lists).
var panicThree = pool.Register("test.panicthree", func(_ context.Context, x int) (int, error) {
	if x == 3 {
		panic("three panics")
	}
	return x, nil
})

// TestLogsShowFailuresAtWarnAndPanicsAtError runs "logs -l warn" against
// a real worker: a failed chunk is a WARN record, a panic an ERROR one,
// and their durations print with a unit (took=1.2ms, not 1.2e+06).
func TestLogsShowFailuresAtWarnAndPanicsAtError(t *testing.T) {
	ctx := testCtx(t)
	wc := config.DefaultWorker()
	wc.HeartbeatInterval = 20 * time.Millisecond
	l, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{Worker: withSlots(wc, 1), Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := writeLocalConfig(t, l.Config())
	out := testenv.NewOutput()
	lctx, stop := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() {
		done <- run(lctx, []string{"glimpse-cluster", "-c", cfg, "logs", "-heartbeats", "-l", "warn"}, out, out, nil)
	}()
	out.WaitFor(t, ctx, l.Worker().ID()+" heartbeat {", nil)

	if _, err := pool.Map(ctx, l.Pool(), failThree, []int{1, 2, 3}); err == nil {
		t.Fatal("failthree did not fail")
	}
	if _, err := pool.Map(ctx, l.Pool(), panicThree, []int{1, 2, 3}); err == nil {
		t.Fatal("panicthree did not fail")
	}
	took := `took=[0-9.]+(ns|µs|ms|s|m)( |$)`
	failed := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(l.Worker().ID()) + ` \S+ WARN "?chunk failed"? .*function=clustertest\.failthree .*` + took)
	panicked := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(l.Worker().ID()) + ` \S+ ERROR "?chunk failed"? .*function=test\.panicthree .*` + took)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := out.Await(wctx, func(s string) bool { return failed.MatchString(s) && panicked.MatchString(s) }, nil); err != nil {
		t.Errorf("logs -l warn did not print a WARN record for the failed chunk and an ERROR one for the panic, with took as a duration (%v):\n%s",
			err, withoutHeartbeats(out.String()))
	}
	stop()
	if code := <-done; code != exitOK {
		t.Fatalf("logs exit %d", code)
	}
}

func withoutHeartbeats(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.Contains(line, " heartbeat {") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

func TestFormatRecord(t *testing.T) {
	line, ok := formatRecord([]byte(`{"time":"T","level":"INFO","msg":"chunk done","worker":"w","took":"10.79ms","bytes":123456789,"err":"a b"}`), 0)
	if want := `T INFO chunk done bytes=123456789 err="a b" took=10.79ms`; !ok || line != want {
		t.Errorf("formatRecord = %q, %v; want %q", line, ok, want)
	}
}
