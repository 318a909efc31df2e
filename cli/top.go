package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/dashboard"
	"github.com/glimpse-go/glimpse/pool"
)

var topCommand = &command{
	name:  "top",
	args:  "[-d DELAY] [-t TIMEOUT]",
	short: "a live terminal view of workers, functions, maps and throughput",
	long: `
Shows the cluster as the web dashboard does, in the terminal: the workers
(a stale one, whose heartbeat is overdue, is marked), the functions and
queues of every job server, the maps running now with their progress, and
the throughput (items/s of maps, chunks/s of workers). It redraws in place
every DELAY until q (or Ctrl-C, SIGTERM, SIGINT); the terminal is restored
on the way out.

When stdout is not a terminal it prints the view once, after the job
servers have answered and the workers answered a ping (within TIMEOUT),
and exits: glimpse-cluster top | less.`,
	run: runTop,
}

func runTop(ctx context.Context, e *env, c *command, args []string) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	cfgPath := fs.String("c", "", "config `FILE` (default: the -c before the command, else $"+config.EnvVar+")")
	delay := durationFlag(fs, "d", time.Second, "redraw every `DELAY`")
	timeout := durationFlag(fs, "t", 5*time.Second, "one-shot output: wait at most `TIMEOUT` for the cluster's answers")
	if code, ok := e.parseFlags(c, fs, args); !ok {
		return code
	}
	if *delay <= 0 || *timeout <= 0 {
		return e.usageError(c, "-d and -t must be positive")
	}
	file, err := e.loadConfig(*cfgPath, true)
	if err != nil {
		return e.configError(c, err)
	}
	ctx, cancel := e.watchSignals(ctx)
	defer cancel()
	p, err := pool.New(file.Client)
	if err != nil {
		return e.failure(c, err)
	}
	defer p.Close()
	started := time.Now()
	watch, err := dashboard.Watch(file.Client, dashboard.WatchOptions{Pool: p})
	if err != nil {
		return e.failure(c, err)
	}
	defer watch.Close()
	if tty, ok := terminalOf(e); ok {
		return e.topLive(ctx, c, watch, tty, *delay)
	}
	wctx, cancelWait := context.WithTimeout(ctx, *timeout)
	defer cancelWait()
	watch.Ready(wctx)
	// The maps running announce themselves at least every 2s, most
	// twice a second: listen a moment for them.
	sleepCtx(wctx, topListen-time.Since(started))
	io.WriteString(e.stdout, renderTop(watch.Snapshot(ctx), time.Now()))
	return exitOK
}

// topListen is how long one-shot output listens to the log channel at
// least.
const topListen = time.Second

// sleepCtx waits d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// terminalOf returns the terminal that top draws on: stdout, when it and
// stdin are one.
func terminalOf(e *env) (*os.File, bool) {
	f, ok := e.stdout.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) || !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, false
	}
	return f, true
}

// topLive redraws the view in place until q, Ctrl-C or ctx ends; the
// terminal's mode and screen are restored on every way out.
func (e *env) topLive(ctx context.Context, c *command, watch *dashboard.Cluster, tty *os.File, delay time.Duration) int {
	stdin := int(os.Stdin.Fd())
	saved, err := term.MakeRaw(stdin)
	if err != nil {
		return e.failure(c, fmt.Errorf("raw terminal mode: %w", err))
	}
	defer term.Restore(stdin, saved)
	io.WriteString(tty, "\x1b[?1049h\x1b[?25l") // alternate screen, no cursor
	defer io.WriteString(tty, "\x1b[?25h\x1b[?1049l")
	quit := make(chan struct{})
	keysDone := make(chan struct{})
	go func() {
		defer close(keysDone)
		readKeys(ctx, stdin, quit)
	}()
	defer func() { <-keysDone }()
	tick := time.NewTicker(delay)
	defer tick.Stop()
	for {
		width, height, _ := term.GetSize(int(tty.Fd()))
		screen := fitScreen(renderTop(watch.Snapshot(ctx), time.Now()), width, height)
		io.WriteString(tty, "\x1b[H\x1b[2J"+screen)
		select {
		case <-ctx.Done():
			return exitOK
		case <-quit:
			return exitOK
		case <-tick.C:
		}
	}
}

// keyPoll bounds each wait for a key, so that the reader notices the end.
const keyPoll = 100 * time.Millisecond

// readKeys closes quit on q, Q or Ctrl-C; it returns then, or once ctx
// ends. It polls stdin so that it never blocks past keyPoll.
func readKeys(ctx context.Context, fd int, quit chan<- struct{}) {
	buf := make([]byte, 16)
	for ctx.Err() == nil {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(keyPoll/time.Millisecond))
		if err != nil && err != unix.EINTR {
			return
		}
		if n <= 0 {
			continue
		}
		k, err := unix.Read(fd, buf)
		if err != nil || k == 0 {
			return // stdin closed: nothing can quit but a signal
		}
		if bytes.ContainsAny(buf[:k], "qQ\x03") {
			close(quit)
			return
		}
	}
}

// fitScreen cuts text to the terminal's size and ends its lines with
// "\r\n" (raw mode does not add the carriage return).
func fitScreen(text string, width, height int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if height > 1 && len(lines) > height-1 {
		lines = append(lines[:height-2], "…")
	}
	for i, l := range lines {
		if r := []rune(l); width > 0 && len(r) > width {
			lines[i] = string(r[:width])
		}
	}
	return strings.Join(lines, "\r\n") + "\r\n"
}

// renderTop writes the view as plain text: a summary line, then the
// workers, the maps and the functions as tables.
func renderTop(s dashboard.Snapshot, now time.Time) string {
	var b strings.Builder
	stale := 0
	for _, w := range s.Workers {
		if w.Stale {
			stale++
		}
	}
	items, chunks := recentRate(s.Throughput, 5)
	fmt.Fprintf(&b, "glimpse-cluster top  %s  workers %d (%d stale)  maps %d  throughput %s items/s, %s chunks/s\n",
		now.Format(time.TimeOnly), len(s.Workers), stale, len(s.Maps), rateText(items), rateText(chunks))
	for _, p := range s.Problems {
		fmt.Fprintf(&b, "! %s\n", escapeText(p))
	}
	b.WriteString("\n")
	writeTopWorkers(&b, s.Workers, now)
	b.WriteString("\n")
	writeTopMaps(&b, s.Maps, now)
	b.WriteString("\n")
	writeTopFunctions(&b, s.Functions)
	return b.String()
}

func writeTopWorkers(w io.Writer, ws []dashboard.Worker, now time.Time) {
	t := newTable(w, "WORKER", "HOST", "PID", "SLOTS", "BUSY", "NREQS", "MEAN_ETIME", "FAILURES", "MEMORY", "UPTIME", "HEARTBEAT")
	for _, x := range ws {
		id, beat := escapeText(x.ID), "-"
		if x.Stale {
			id += " (stale)"
		}
		if !x.LastHeartbeat.IsZero() {
			beat = shortDuration(now.Sub(x.LastHeartbeat)) + " ago"
		}
		t.row(id, orDash(escapeText(x.Host)), strconv.Itoa(x.PID), strconv.Itoa(x.Slots), strconv.Itoa(x.Busy),
			strconv.FormatInt(x.Requests, 10), shortDuration(seconds(x.MeanBusy)), strconv.FormatInt(x.Failures, 10),
			mebibytes(x.Memory), seconds(x.Uptime).Round(time.Second).String(), beat)
	}
	if len(ws) == 0 {
		t.row("(no workers)")
	}
	t.flush()
}

func writeTopMaps(w io.Writer, ms []dashboard.Map, now time.Time) {
	t := newTable(w, "MAP", "FUNCTION", "DONE", "TOTAL", "PROGRESS", "ELAPSED", "STATE", "CLIENT")
	for _, m := range ms {
		total, pct := "?", "-"
		if m.Total >= 0 {
			total = strconv.Itoa(m.Total)
		}
		if m.Total > 0 {
			pct = strconv.Itoa(100*m.Done/m.Total) + "%"
		}
		state := m.State
		if m.Stale {
			state = "no news"
		}
		t.row(escapeText(m.ID), escapeText(m.Function), strconv.Itoa(m.Done), total, pct,
			now.Sub(m.Start).Round(100*time.Millisecond).String(), state, escapeText(m.Client))
	}
	if len(ms) == 0 {
		t.row("(no maps running)")
	}
	t.flush()
}

func writeTopFunctions(w io.Writer, fs []dashboard.Function) {
	t := newTable(w, "FUNCTION", "JOB SERVER", "QUEUED", "RUNNING", "WORKERS", "SLOTS")
	for _, f := range fs {
		t.row(escapeText(f.Name), f.Server, strconv.Itoa(f.Queued), strconv.Itoa(f.Running), strconv.Itoa(f.Workers), strconv.Itoa(f.Slots))
	}
	if len(fs) == 0 {
		t.row("(no functions)")
	}
	t.flush()
}

// recentRate is the mean items/s and chunks/s of the last n points.
func recentRate(ps []dashboard.Point, n int) (items, chunks float64) {
	ps = ps[max(len(ps)-n, 0):]
	for _, p := range ps {
		items += p.Items
		chunks += p.Chunks
	}
	if len(ps) == 0 {
		return 0, 0
	}
	return items / float64(len(ps)), chunks / float64(len(ps))
}

func rateText(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
