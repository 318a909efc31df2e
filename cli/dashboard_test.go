package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// dashNap sleeps its item: a map of it runs long enough to watch (named
// to sort after the examples, which TestWorkerCommandErrors lists).
var dashNap = pool.Register("test.dashnap", func(ctx context.Context, d time.Duration) (time.Duration, error) {
	select {
	case <-time.After(d):
		return d, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
})

// screenshotEnv names the file the browser test saves its screenshot
// to (make screenshots: bench/results/dashboard.png); by default a file
// in the system's temp dir, named in the test's log.
const screenshotEnv = "GLIMPSE_DASHBOARD_SCREENSHOT"

// startWatchedCluster starts a local cluster (gearmand, broker, fanout,
// an in-process worker) and n worker processes heartbeating every 200ms,
// and returns it, a config file, the processes and every worker's id.
func startWatchedCluster(t *testing.T, ctx context.Context, n int) (*cluster.Local, string, []*proc, []string) {
	t.Helper()
	wc := withSlots(config.DefaultWorker(), 1)
	wc.HeartbeatInterval = 200 * time.Millisecond
	l, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{Worker: wc, Log: testWriter{T: t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	cfg := writeLocalConfig(t, l.Config(), "[worker]", "heartbeat_interval = 200ms")
	var procs []*proc
	for range n {
		procs = append(procs, startProc(t, "-c", cfg, "worker", "-n", "2"))
	}
	var ids []string
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	testenv.Eventually(t, sctx, fmt.Sprintf("%d workers answering a ping", n+1), func() (bool, error) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		stats, err := l.Pool().Ping(pctx)
		ids = ids[:0]
		for _, s := range stats {
			ids = append(ids, s.WorkerID)
		}
		return len(ids) == n+1, err
	})
	return l, cfg, procs, ids
}

// chromium returns the headless browser's path, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("no Chromium on PATH (Debian package chromium; scripts/install-deps.sh installs it): the dashboard's browser test needs one")
	return ""
}

// startDashboard runs "glimpse-cluster dashboard" as a process and
// returns it with the URL it printed.
func startDashboard(t *testing.T, ctx context.Context, cfg string) (*proc, string) {
	t.Helper()
	p := startProc(t, "-c", cfg, "dashboard", "-listen", "127.0.0.1:0")
	out := p.stdout.Wait(t, ctx, "the dashboard's URL", func(s string) bool { return strings.Contains(s, "\n") }, p.done)
	url := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`).FindString(out)
	if url == "" {
		t.Fatalf("dashboard printed no URL: %q", out)
	}
	return p, url
}

// newBrowser starts headless Chromium for the test.
func newBrowser(t *testing.T, ctx context.Context, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	return bctx
}

// evalUntil evaluates the JavaScript expression js until it returns
// true, for at most d.
func evalUntil(t *testing.T, bctx context.Context, what, js string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, err := chromedp.Run(bctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page never showed %s (%v)", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDashboardInBrowser opens the dashboard of a cluster with worker
// processes in headless Chromium: every worker has a row, a running map's
// progress moves, a log record of a worker appears (and goes under a
// stricter level filter), a phone-size screen has no horizontal
// overflow, and the dashboard process stops on SIGTERM within a bound
// while the browser still holds its log stream open.
func TestDashboardInBrowser(t *testing.T) {
	path := chromium(t)
	ctx := testenv.Context(t)
	l, cfg, _, ids := startWatchedCluster(t, ctx, 2)
	dash, url := startDashboard(t, ctx, cfg)
	bctx := newBrowser(t, ctx, path)
	if err := chromedp.Do(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		evalUntil(t, bctx, "the row of worker "+id, fmt.Sprintf(`!!document.querySelector('tr[data-worker=%q] td:nth-child(3)') &&
			document.querySelector('tr[data-worker=%q] td:nth-child(3)').textContent !== "-"`, id, id), 15*time.Second)
	}

	if _, err := pool.Map(ctx, l.Pool(), failThree, []int{1, 2, 3}); err == nil {
		t.Fatal("failthree did not fail")
	}
	logLine := `[...document.querySelectorAll('#logs div')].some(d => d.textContent.includes("clustertest.failthree") && d.textContent.includes("WARN"))`
	evalUntil(t, bctx, "the worker's WARN record of the failed chunk", logLine, 15*time.Second)
	mapDone := make(chan error, 1)
	go func() {
		naps := slices.Repeat([]time.Duration{150 * time.Millisecond}, 150)
		_, err := pool.Map(ctx, l.Pool(), dashNap, naps, pool.Chunksize(1))
		mapDone <- err
	}()
	first := mapProgress(t, bctx, 0, 15*time.Second)
	second := mapProgress(t, bctx, first, 15*time.Second)
	t.Logf("map progress on the page: %d, then %d items", first, second)
	saveScreenshot(t, bctx)
	if err := <-mapDone; err != nil {
		t.Fatal(err)
	}

	setLevel(t, bctx, "error")
	time.Sleep(time.Second) // the recent records are replayed at once
	if ok, err := chromedp.Run(bctx, chromedp.Evaluate[bool](logLine)); err != nil || ok {
		t.Errorf("the WARN record still shows under the level filter error (%v)", err)
	}
	setLevel(t, bctx, "warn")
	evalUntil(t, bctx, "the WARN record again under the level filter warn", logLine, 10*time.Second)

	checkPhoneWidth(t, bctx)
	stopped := time.Now()
	dash.signal(t, syscall.SIGTERM)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if code := dash.wait(t, wctx); code != exitOK {
		t.Fatalf("dashboard exit %d after SIGTERM", code)
	}
	if took := time.Since(stopped); took > 3*ShutdownWaitForTest {
		t.Errorf("dashboard took %v to stop on SIGTERM with a log stream open", took)
	}
}

// setLevel picks the log pane's level filter and waits for its stream.
func setLevel(t *testing.T, bctx context.Context, level string) {
	t.Helper()
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const s = document.getElementById("level");
		s.value = %q; return s.dispatchEvent(new Event("change")); })()`, level))); err != nil {
		t.Fatal(err)
	}
	evalUntil(t, bctx, "the log stream at level "+level, `document.getElementById("logs-state").textContent === "live"`, 10*time.Second)
}

// ShutdownWaitForTest is the dashboard's shutdown bound, with which the
// test allows 3x slack.
const ShutdownWaitForTest = 2 * time.Second

// mapProgress waits until the page shows a map with more than after
// items done, and returns that count.
func mapProgress(t *testing.T, bctx context.Context, after int, d time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		text, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`(document.querySelector('[data-map] .done') || {}).textContent || ""`))
		if n, err := strconv.Atoi(text); err == nil && n > after {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page showed no map with more than %d items done (last %q)", after, text)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// saveScreenshot saves the page as a PNG: to $GLIMPSE_DASHBOARD_SCREENSHOT,
// else to a temp file that outlives the test.
func saveScreenshot(t *testing.T, bctx context.Context) {
	t.Helper()
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := os.Getenv(screenshotEnv)
	if path == "" {
		dir, err := os.MkdirTemp("", "glimpse-dashboard-")
		if err != nil {
			t.Fatal(err)
		}
		path = filepath.Join(dir, "dashboard.png")
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("dashboard screenshot: %s", path)
}

// checkPhoneWidth shows the page on a phone-size screen (390x844) and
// checks that nothing makes it scroll sideways.
func checkPhoneWidth(t *testing.T, bctx context.Context) {
	t.Helper()
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // a redraw at the new size
	widths, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(widths) != 2 || widths[0] > widths[1] {
		t.Errorf("on a 390px-wide screen the page is %v wide (scrollWidth, innerWidth): it scrolls sideways", widths)
	}
}
