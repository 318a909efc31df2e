package dashboard

import "time"

// The throughput chart's resolution and span.
const (
	historyStep   = 2 * time.Second
	historyPoints = 150 // five minutes
)

// history sums the items and chunks done per historyStep over the last
// historyPoints steps: a ring of buckets.
type history struct {
	items, chunks [historyPoints]float64
	last          int64 // step number of the newest bucket
}

func newHistory() *history { return &history{} }

func step(t time.Time) int64 { return t.UnixNano() / int64(historyStep) }

// advance moves the ring to now's step, emptying the buckets it passes.
func (h *history) advance(now time.Time) {
	n := step(now)
	if n <= h.last {
		return
	}
	for i := h.last + 1; i <= n && i <= h.last+historyPoints; i++ {
		h.items[i%historyPoints], h.chunks[i%historyPoints] = 0, 0
	}
	h.last = n
}

func (h *history) add(now time.Time, items, chunks float64) {
	h.advance(now)
	i := h.last % historyPoints
	h.items[i] += items
	h.chunks[i] += chunks
}

// points is the history as rates per second, oldest first. The current
// step, still filling, is in once half of it has passed, as its rate so
// far.
func (h *history) points(now time.Time) []Point {
	h.advance(now)
	out := make([]Point, 0, historyPoints)
	for n := h.last - historyPoints + 1; n <= h.last; n++ {
		i := (n%historyPoints + historyPoints) % historyPoints
		end, per := time.Unix(0, (n+1)*int64(historyStep)), historyStep.Seconds()
		if n == h.last {
			end, per = now, now.Sub(time.Unix(0, n*int64(historyStep))).Seconds()
			if per < historyStep.Seconds()/2 {
				break
			}
		}
		out = append(out, Point{Time: end, Items: h.items[i] / per, Chunks: h.chunks[i] / per})
	}
	return out
}
