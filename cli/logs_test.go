package cli

import (
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
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
	ctx := testenv.Context(t)
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
	rec, err := pool.ParseLogMessage(wire.TopicLog+"w", []byte(`{"time":"2026-11-30T05:30:00.5Z","level":"INFO","msg":"chunk done","worker":"w","took":"10.79ms","bytes":123456789,"err":"a b"}`))
	line := formatRecord(rec)
	if want := `2026-11-30T05:30:00.5Z INFO chunk done bytes=123456789 err="a b" took=10.79ms`; err != nil || line != want {
		t.Errorf("formatRecord = %q (%v); want %q", line, err, want)
	}
}

// TestLogsEscapeForgedControlCharacters publishes forged records on the
// real log channel of a local cluster: an ESC sequence and a newline in the
// message, a key, a value and the worker id must print escaped, so a record
// can neither clear the terminal nor fake a line of another worker.
func TestLogsEscapeForgedControlCharacters(t *testing.T) {
	ctx := testenv.Context(t)
	l, cfg := startLocal1(t, ctx)
	out := testenv.NewOutput()
	lctx, stop := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() {
		done <- run(lctx, []string{"glimpse-cluster", "-c", cfg, "logs"}, out, out, nil)
	}()
	pub, err := broker.NewPublisher(l.Config().LogFrontendURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	forged := `{"time":"T","level":"INFO","msg":"marker \u001b[2J\nw1 T ERROR fake line","k\u001b[1m":"v\u001b[2J\nfake line\u0085x"}`
	topic := wire.TopicLog + "evil\x1b[2J\nw2"
	sent := make(chan struct{})
	go resendUntil(sent, pub, topic, []byte(forged)) // the SUB may not be connected yet
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = out.Await(wctx, func(s string) bool { return strings.Contains(s, "marker") }, nil)
	close(sent)
	if err != nil {
		t.Fatalf("the forged record never printed (%v):\n%q", err, out.String())
	}
	stop()
	if code := <-done; code != exitOK {
		t.Fatalf("logs exit %d", code)
	}
	got := out.String()
	if strings.ContainsAny(got, "\x1b\u0085") {
		t.Errorf("logs printed a raw control character:\n%q", got)
	}
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "w1 ") || strings.HasPrefix(line, "w2") || strings.HasPrefix(line, "fake line") {
			t.Errorf("logs printed a line the record forged: %q (all: %q)", line, got)
		}
	}
	if want := `\x1b[2J`; !strings.Contains(got, want) {
		t.Errorf("logs output lacks the escaped ESC %s:\n%s", want, got)
	}
}

// resendUntil publishes the message every 50ms until done is closed.
func resendUntil(done <-chan struct{}, pub *broker.Publisher, topic string, data []byte) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		pub.Send(topic, data)
		select {
		case <-done:
			return
		case <-tick.C:
		}
	}
}
