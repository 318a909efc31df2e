package pool

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
)

// A chunk's copies: launching a chunk (submitted in input order), running
// each copy on its own goroutine, and deciding which copy's outcome counts.

// flight is a chunk in progress: its first copy, and its backup copy if
// it was launched again.
type flight[In any] struct {
	idx      int
	start    int
	items    []In
	launched time.Time
	copies   int  // copies still running
	backedUp bool // a backup copy was launched
	cancel   context.CancelFunc
}

func (f *flight[In]) span() string { return chunkSpan(f.idx, f.start, f.last()) }

// last is the input index of the chunk's last item.
func (f *flight[In]) last() int { return f.start + len(f.items) - 1 }

// chunkSpan names a chunk in errors: its index and its items.
func chunkSpan(idx, first, last int) string {
	return fmt.Sprintf("chunk %d (items %d-%d)", idx, first, last)
}

// launch submits chunk idx.
func (m *mapRun[In, Out]) launch(idx, start int, items []In) {
	f := &flight[In]{idx: idx, start: start, items: items, launched: time.Now(), cancel: func() {}}
	m.flights[idx] = f
	unique := m.mapID + "-" + strconv.Itoa(idx)
	if m.submitInline(items) {
		m.runCopy(f, unique, nil, nil)
		m.armBackup()
		return
	}
	// Larger chunks are encoded on their own goroutines, but each is
	// submitted after the one before it, so that the job servers queue
	// them in input order.
	prev, mine := m.submitted, make(chan struct{})
	m.submitted = mine
	m.runCopy(f, unique, prev, mine)
	m.armBackup()
}

// inlineItems is the most items of a chunk that launch encodes and
// submits on the map's own goroutine. Encoding a few items costs less
// than handing them to another goroutine, and the chunks of Chunksize(1)
// maps and single calls were submitted one goroutine switch apart (each
// waiting for the one before it). inlineBytes bounds their encoding.
const (
	inlineItems = 8
	inlineBytes = 16 << 10
)

// submitInline says whether the chunk of items is submitted on the map's
// goroutine: a small chunk whose predecessors are all submitted.
func (m *mapRun[In, Out]) submitInline(items []In) bool {
	if len(items) > inlineItems || m.chunkBufferSize(items) > inlineBytes {
		return false
	}
	select {
	case <-m.submitted:
		return true
	default:
		return false
	}
}

// runCopy runs one copy of a chunk: it submits the copy once after is
// closed, closes submitted (if not nil) then, and reports the outcome, on
// a goroutine of its own; with after nil, it submits on the caller's
// goroutine first. A backup copy has a unique id of its own, or gearmand
// would coalesce it with the copy it backs up.
func (m *mapRun[In, Out]) runCopy(f *flight[In], unique string, after <-chan struct{}, submitted chan<- struct{}) {
	ctx, cancel := context.WithCancelCause(m.ctx)
	first := f.cancel
	f.cancel = func() { first(); cancel(nil) }
	f.copies++
	c := &chunkCall[In, Out]{m: m, f: f, unique: unique, ctx: ctx, stop: cancel, lost: make(chan *ChunkLostError, 1)}
	m.calls[c] = struct{}{}
	m.wg.Add(1)
	m.p.counters.chunksInFlight.Add(1)
	t0 := time.Now()
	var sent *gearman.Task
	var sendErr error
	if after == nil {
		c.deferWrite = m.deferWrites
		sent, sendErr = c.submitAfter(closedChan)
		m.unwritten = m.unwritten || c.deferWrite && sendErr == nil
		c.deferWrite = false // a resubmission waits for nothing else
	}
	m.p.runners.Go(func() {
		defer m.wg.Done()
		defer m.p.counters.chunksInFlight.Add(-1)
		task, err := sent, sendErr
		if after != nil {
			task, err = c.submitAfter(after)
			if submitted != nil {
				close(submitted)
			}
		}
		out, err := c.run(task, err)
		oc := outcome[In, Out]{idx: f.idx, start: f.start, n: len(f.items), items: out, took: time.Since(t0), err: err, call: c}
		select {
		case m.outcomes <- oc:
		case <-m.ctx.Done(): // the map is over; nobody reads
		}
	})
}

// maxIdleRunners is how many goroutines that ran a chunk's copy wait
// for the next one (internal/runners): enough for a busy map's window.
const maxIdleRunners = 256

// closedChan is a channel that is closed.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// decide takes a copy's outcome and reports whether it decides its chunk:
// the first success does, and so does a failure when no other copy is
// left running. The other copy of a decided chunk is cancelled and its
// outcome, if it still comes, is dropped.
func (m *mapRun[In, Out]) decide(oc outcome[In, Out]) bool {
	f, ok := m.flights[oc.idx]
	if !ok {
		return false
	}
	f.copies--
	if oc.err != nil && f.copies > 0 {
		return false
	}
	delete(m.flights, oc.idx)
	f.cancel()
	if oc.err == nil {
		m.recordTook(oc.took)
		if oc.call != nil && oc.call.backup() {
			m.p.counters.backupsWon.Add(1)
		}
	}
	m.armBackup()
	return true
}
