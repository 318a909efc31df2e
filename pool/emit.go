package pool

// emitter hands decided chunks to the map's consumer: in input order if
// ordered (a chunk that finishes early waits in pending for the ones
// before it), else as they come. It bounds nothing itself; the map keeps
// launched-retired under its window.
type emitter[In, Out any] struct {
	ordered  bool
	emit     func(start, n int, vs []Out) bool
	progress func(done, total int) // nil: no Progress option

	pending map[int]outcome[In, Out] // ordered: decided, waiting for earlier chunks
	next    int                      // ordered: the chunk to emit next
	retired int                      // chunks whose results were emitted
	done    int                      // items emitted
}

func newEmitter[In, Out any](ordered bool, emit func(int, int, []Out) bool, progress func(int, int)) *emitter[In, Out] {
	return &emitter[In, Out]{ordered: ordered, emit: emit, progress: progress, pending: map[int]outcome[In, Out]{}}
}

// take gets a chunk's successful outcome and emits what became ready;
// errStopped if the consumer stopped. total is the input's length, or -1
// while unknown, for Progress.
func (e *emitter[In, Out]) take(oc outcome[In, Out], total int) error {
	for _, r := range e.ready(oc) {
		e.retired++
		e.done += r.n
		if !e.emit(r.start, r.n, r.items) {
			return errStopped
		}
		if e.progress != nil {
			e.progress(e.done, total)
		}
	}
	return nil
}

// ready returns the outcomes that may be emitted now that oc came.
func (e *emitter[In, Out]) ready(oc outcome[In, Out]) []outcome[In, Out] {
	if !e.ordered {
		return []outcome[In, Out]{oc}
	}
	e.pending[oc.idx] = oc
	var ready []outcome[In, Out]
	for {
		r, ok := e.pending[e.next]
		if !ok {
			return ready
		}
		delete(e.pending, e.next)
		ready = append(ready, r)
		e.next++
	}
}

// totalKnown reports the total once an input of unknown length ends: the
// chunks may all be in already, and then no later report would carry it.
func (e *emitter[In, Out]) totalKnown(total int) {
	if e.progress != nil && e.done > 0 {
		e.progress(e.done, total)
	}
}
