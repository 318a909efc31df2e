package gearman

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/internal/lifecycle"
	"github.com/glimpse-go/glimpse/internal/runners"
)

// Worker serves registered functions to one or more job servers. It runs
// up to WithConcurrency jobs at once over all of them: each free slot asks
// a server for a job (GRAB_JOB_UNIQ), several asks in flight on one
// connection, and a finished job's result and the next ask leave in one
// write, shared with the results of the other jobs in hand that end soon
// after (batch.go). A server with no work is slept on (PRE_SLEEP) until
// it wakes the worker with NOOP, so an idle worker sends nothing.
type Worker struct {
	opts  workerOptions
	addrs []string

	// Its Context ends the grabbing (Shutdown and Close); its WorkContext
	// ends the jobs and the redialling (Close, or the end of Shutdown).
	life  lifecycle.Lifecycle
	loops lifecycle.Group // connection and grabber goroutines

	mu            sync.Mutex
	funcs         map[string]*registration
	conns         []*workerConn
	disconnecting bool // a connection made from now on is closed at once

	slots    chan struct{} // one token per free slot, and per ask ahead in circulation
	prefetch prefetch      // asks ahead (prefetch.go)
	runners  *runners.Set  // the jobs' goroutines, reused
}

// NewWorker returns a worker for the job servers at addrs. Register
// functions, then call Run.
func NewWorker(addrs []string, opts ...WorkerOption) (*Worker, error) {
	addrs, err := normalizeAddrs(addrs)
	if err != nil {
		return nil, err
	}
	o := newWorkerOptions(opts)
	if o.concurrency < 1 {
		return nil, fmt.Errorf("gearman: worker concurrency %d is not positive", o.concurrency)
	}
	if o.prefetch < 0 {
		return nil, fmt.Errorf("gearman: worker prefetch %d is negative", o.prefetch)
	}
	w := &Worker{
		opts:  o,
		addrs: addrs,
		funcs: map[string]*registration{},
		slots: make(chan struct{}, o.concurrency+o.prefetch),
		// A runner per slot and per ask ahead: as many jobs as run at once.
		runners: runners.New(o.concurrency + o.prefetch),
	}
	w.prefetch.init(o.concurrency, o.prefetch)
	for range o.concurrency {
		w.slots <- struct{}{}
	}
	return w, nil
}

// Register serves function with fn, on every connection, from now on.
func (w *Worker) Register(function string, fn JobFunc, opts ...RegisterOption) error {
	if err := checkFunction(function); err != nil {
		return err
	}
	if fn == nil {
		return fmt.Errorf("gearman: register %s: nil JobFunc", function)
	}
	r := &registration{fn: fn}
	for _, opt := range opts {
		opt(r)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, dup := w.funcs[function]; dup {
		return fmt.Errorf("gearman: register %s: already registered", function)
	}
	w.funcs[function] = r
	for _, wc := range w.conns {
		wc.mu.Lock()
		if wc.cn != nil {
			r.canDo(wc.cn, function)
		}
		wc.mu.Unlock()
	}
	return nil
}

// Unregister stops serving function (CANT_DO). Jobs of it already running
// finish.
func (w *Worker) Unregister(function string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.funcs[function]; !ok {
		return fmt.Errorf("gearman: unregister %s: not registered", function)
	}
	delete(w.funcs, function)
	for _, wc := range w.conns {
		wc.mu.Lock()
		if wc.cn != nil {
			wc.cn.sendAsync(CantDo, []byte(function))
		}
		wc.mu.Unlock()
	}
	return nil
}

// Run connects to the job servers and serves jobs until Shutdown or Close,
// then returns ErrWorkerClosed. Servers that are down or go away are
// redialled with backoff. A second Run while one is going fails with an
// error wrapping lifecycle.ErrRunning.
func (w *Worker) Run() error {
	if err := w.start(); err != nil {
		return err
	}
	defer w.life.End()
	<-w.life.Context().Done()
	return ErrWorkerClosed
}

// start begins the Run and a connection to each job server. w.mu makes
// starting and disconnect exclusive: disconnect sees every connection
// started, or Begin sees the worker stopped.
func (w *Worker) start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.life.Begin(); err != nil {
		if errors.Is(err, lifecycle.ErrClosed) {
			return ErrWorkerClosed
		}
		return fmt.Errorf("gearman: worker: %w", err)
	}
	for _, a := range w.addrs {
		wc := &workerConn{w: w, addr: a, wake: make(chan struct{}, 1)}
		w.conns = append(w.conns, wc)
		w.loops.Go(wc.run)
		w.loops.Go(wc.grab)
	}
	return nil
}

// Shutdown stops taking jobs, waits for the running ones to finish and
// their results to be sent, then disconnects. If ctx ends first it calls
// Close and returns ctx's error.
func (w *Worker) Shutdown(ctx context.Context) error {
	if before := w.life.Stop(); before != lifecycle.Idle && before != lifecycle.Running {
		return nil // someone else is stopping it
	}
	// Every slot back in hand means no job is running and no GRAB_JOB is
	// waiting for its answer. (Asks ahead stop moving in or out of
	// circulation once the worker stops; the recheck covers a job that
	// moved one as it stopped.)
	recheck := time.NewTicker(10 * time.Millisecond)
	defer recheck.Stop()
	for back := 0; back < w.inCirculation(); {
		select {
		case <-w.slots:
			back++
		case <-recheck.C:
		case <-ctx.Done():
			w.Close()
			return ctx.Err()
		}
	}
	w.disconnect(true)
	return nil
}

// Close disconnects at once and cancels the context of running jobs; it
// does not wait for job functions to return. Jobs that were running are
// given to other workers by the job server.
func (w *Worker) Close() error {
	w.life.Stop()
	w.disconnect(false)
	return nil
}

// disconnect ends the worker: it closes every connection (flushing queued
// results first if flush), cancels the jobs' context and the redialling,
// and waits for the worker's own goroutines.
func (w *Worker) disconnect(flush bool) {
	w.mu.Lock()
	w.disconnecting = true
	conns := w.conns
	w.mu.Unlock()
	// Connections first, contexts after: a job that returns as soon as its
	// context is cancelled must not get its error to the job server, which
	// would end the job instead of giving it to another worker.
	for _, wc := range conns {
		wc.mu.Lock()
		cn := wc.cn
		wc.mu.Unlock()
		switch {
		case cn == nil:
		case flush:
			cn.flushClose(time.Second)
		default:
			cn.close(ErrWorkerClosed)
		}
	}
	w.life.Cancel() // stops the redialling too, which loops waits for
	w.loops.Wait(context.Background())
	w.runners.Stop()
}
