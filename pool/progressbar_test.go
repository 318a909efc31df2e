package pool_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// openPTY opens a pseudo-terminal 120 columns wide: what the bar draws on
// the terminal side (term) is read from the other (screen).
func openPTY(t *testing.T) (term *os.File, screen *testenv.Output) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	term, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(term.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 120}); err != nil {
		t.Fatal(err)
	}
	screen = testenv.NewOutput()
	read := make(chan struct{})
	go func() {
		defer close(read)
		io.Copy(screen, master) // ends with EIO once term is closed
	}()
	t.Cleanup(func() {
		term.Close()
		master.Close()
		<-read
	})
	return term, screen
}

// squaresPool is a pool with two worker slots serving examples.square.
func squaresPool(t *testing.T) *pool.Pool {
	t.Helper()
	addr := gearmand(t)
	startWorker(t, 2, addr)
	return newPool(t, "examples.square", 2, addr)
}

func TestProgressBarDrawsOnATerminal(t *testing.T) {
	ctx := testenv.Context(t)
	p := squaresPool(t)
	term, screen := openPTY(t)
	xs := make([]int64, 200)
	if _, err := pool.Map(ctx, p, funcs.Square, xs, pool.Chunksize(10), pool.ProgressBar(term, "squares")); err != nil {
		t.Fatal(err)
	}
	// A bar with the count, the rate and elapsed:left; then the finished
	// bar with the time taken, on a line of its own.
	drawing := regexp.MustCompile(`squares +[0-9]+% \|[^|]+\| \([0-9]+/200, [0-9]+ items/(s|min|hr)\) \[[0-9hms]+:[0-9hms]+\]`)
	done := regexp.MustCompile(`squares 100% \|[^|]+\| \(200/200, [0-9]+ items/(s|min|hr)\) \[[0-9hms]+\]\r?\n`)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := screen.Await(wctx, func(s string) bool { return drawing.MatchString(s) && done.MatchString(s) }, nil); err != nil {
		t.Fatalf("the terminal shows no bar with an ETA and no finished bar (%v):\n%q", err, screen)
	}
}

func TestProgressBarUnknownTotal(t *testing.T) {
	ctx := testenv.Context(t)
	p := squaresPool(t)
	term, screen := openPTY(t)
	bar := pool.ProgressBar(term, "streamed")
	for range 2 { // the same option, reused: a bar per map
		n := 0
		for _, err := range pool.Imap(ctx, p, funcs.Square, count(100), pool.Chunksize(10), pool.Window(3), bar) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != 100 {
			t.Fatalf("Imap gave %d results, want 100", n)
		}
	}
	// While the input runs: a spinner with the count and no total; at the
	// end, the bar.
	spinning := regexp.MustCompile(`streamed \([0-9]+/-, [0-9]+ items/(s|min|hr)\) \[[0-9hms]+\]`)
	finished := regexp.MustCompile(`(?s)streamed 100% \|[^|]+\| \(100/100, .*streamed 100% \|[^|]+\| \(100/100, `)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := screen.Await(wctx, func(s string) bool { return spinning.MatchString(s) && finished.MatchString(s) }, nil); err != nil {
		t.Fatalf("the terminal shows no spinner then two finished bars (%v):\n%q", err, screen)
	}
}

func count(n int) func(func(int64) bool) {
	return func(yield func(int64) bool) {
		for i := range n {
			if !yield(int64(i)) {
				return
			}
		}
	}
}

// TestProgressBarSilentOffTerminal: on a buffer or a pipe the bar writes
// nothing at all, for a map and a streamed one.
func TestProgressBarSilentOffTerminal(t *testing.T) {
	ctx := testenv.Context(t)
	p := squaresPool(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var buf bytes.Buffer
	calls := 0
	counted := pool.Progress(func(int, int) { calls++ })
	for _, out := range []io.Writer{&buf, w} {
		if _, err := pool.Map(ctx, p, funcs.Square, make([]int64, 50), pool.Chunksize(5), counted, pool.ProgressBar(out, "squares")); err != nil {
			t.Fatal(err)
		}
		for _, err := range pool.Imap(ctx, p, funcs.Square, count(50), pool.ProgressBar(out, "squares")) {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	w.Close()
	piped, err := io.ReadAll(r)
	if err != nil && !errors.Is(err, os.ErrClosed) {
		t.Fatal(err)
	}
	if buf.Len() != 0 || len(piped) != 0 {
		t.Errorf("the bar wrote %q to a buffer and %q to a pipe; want nothing", buf.String(), piped)
	}
	if calls != 20 {
		t.Errorf("a Progress given before ProgressBar was called %d times over two maps of 10 chunks, want 20", calls)
	}
}
