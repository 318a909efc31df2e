package pool

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressRedraw bounds how often the bar is redrawn: a fast map finishes
// chunks far more often than a terminal is worth repainting.
const progressRedraw = 65 * time.Millisecond

// ProgressBar returns a map option that draws a progress bar on w, with
// the description in front, when w is a terminal (such as os.Stderr in an
// interactive shell): items done of the total, the rate in items/s, and
// the time elapsed and left (the time taken once finished). For Imap and ImapUnordered, whose input
// length is unknown until it ends, it shows a spinner with the count,
// the rate and the time elapsed instead, and the finished bar at the end. It redraws at most every 65ms; the finished bar stays on its
// line.
//
// When w is not a terminal (a pipe, a file, a buffer) it draws nothing at
// all, so a program's output stays clean when it is redirected. A map
// that fails leaves the bar where it stopped.
//
// Each map gets a bar of its own, so one ProgressBar option may be reused.
// It composes with a Progress option given before it.
func ProgressBar(w io.Writer, description string) MapOption {
	if !isTerminal(w) {
		return func(*mapOptions) {}
	}
	return func(o *mapOptions) {
		bar := &progressBar{w: w, description: description}
		if prev := o.progress; prev != nil {
			o.progress = func(done, total int) {
				prev(done, total)
				bar.update(done, total)
			}
			return
		}
		o.progress = bar.update
	}
}

// isTerminal says whether w is a terminal (an *os.File or anything else
// with a file descriptor).
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressBar is one map's bar, made at its first progress report.
type progressBar struct {
	w           io.Writer
	description string
	bar         *progressbar.ProgressBar
	spinner     bool // made while the total was unknown
}

// update is the map's Progress function: total is -1 while unknown.
func (b *progressBar) update(done, total int) {
	if b.bar == nil {
		b.bar = b.newBar(total)
		b.spinner = total < 0
	}
	if b.spinner && total >= 0 && done >= total {
		// The library's spinner counts modulo its width, so a spinner
		// cannot become a bar part way; at the end it can: Finish sets
		// the count to the total and draws the finished bar.
		b.bar.ChangeMax(total)
		b.bar.Finish()
		return
	}
	b.bar.Set(done)
}

func (b *progressBar) newBar(total int) *progressbar.ProgressBar {
	// The bar fills the line; a terminal that does not tell its width
	// (some report 0 columns) gets a bar of 20.
	width := progressbar.OptionSetWidth(20)
	if f, ok := b.w.(interface{ Fd() uintptr }); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols >= 60 {
			width = progressbar.OptionFullWidth()
		}
	}
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(b.description),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("items"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		width,
		progressbar.OptionThrottle(progressRedraw),
		// The spinner turns at each redraw: with an interval the library
		// would run a goroutine until the bar finishes, which a failed
		// map never does.
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }))
}
