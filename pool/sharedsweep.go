package pool

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
)

// A copy of a shared value sent to one worker's alias (sharedsend.go)
// that the map gave up on (its worker died before taking it, or holding
// it, or the map ended first) stays queued at its job server under that
// alias: nobody else serves it, and gearmand drops a job only when a
// worker asks for it, even once its client has gone. With a 50 MB value,
// that is 50 MB of the job server's memory for ever. So the pool sweeps
// the alias: once no worker serves it any more, the pool serves it itself
// for a while, and fails every job it is given, unread (a tiny packet
// size limit skips the data), which frees them.

// errAbandonedCopy fails a swept copy job.
var errAbandonedCopy = errors.New("pool: a copy of a shared value its map gave up on (swept)")

// sweepWatch bounds how long a sweep watches an alias whose worker still
// serves it (it may yet take the copy, or die first); sweepPoll is how
// often it asks the job server.
const (
	sweepWatch = 30 * time.Second
	sweepPoll  = 100 * time.Millisecond
)

// aliasSweeper runs a pool's sweeps, one per job server and alias at a
// time.
type aliasSweeper struct {
	mu      sync.Mutex
	closed  bool
	running map[string]struct{} // server + " " + alias
	wg      sync.WaitGroup
	ctx     context.Context // the sweeps'; cancelled by close
	cancel  context.CancelFunc
}

// sweepAlias starts sweeping alias at the job servers given (all of the
// pool's if none: the job's handle was not known yet), unless a sweep of
// it runs already.
func (p *Pool) sweepAlias(alias string, servers ...string) {
	if len(servers) == 0 {
		servers = p.cfg.JobServers
	}
	s := &p.sweeper
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.running == nil {
		s.running = map[string]struct{}{}
		s.ctx, s.cancel = context.WithCancel(context.Background())
	}
	for _, server := range servers {
		key := server + " " + alias
		if _, ok := s.running[key]; ok {
			continue
		}
		s.running[key] = struct{}{}
		ctx := s.ctx
		s.wg.Go(func() {
			defer s.done(key)
			p.sweep(ctx, server, alias)
		})
	}
}

func (s *aliasSweeper) done(key string) {
	s.mu.Lock()
	delete(s.running, key)
	s.mu.Unlock()
}

// close ends the sweeps and waits for them.
func (s *aliasSweeper) close() {
	s.mu.Lock()
	if !s.closed && s.cancel != nil {
		s.cancel()
	}
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
}

// sweep watches alias at server until nothing is queued for it: while a
// worker serves it, that worker will take its jobs; once none does, the
// pool serves it and fails the jobs it is given.
func (p *Pool) sweep(ctx context.Context, server, alias string) {
	ctx, cancel := context.WithTimeout(ctx, sweepWatch)
	defer cancel()
	var grabber *gearman.Worker
	var serving sync.WaitGroup
	defer func() {
		if grabber != nil {
			grabber.Close()
			serving.Wait()
		}
	}()
	tick := time.NewTicker(sweepPoll)
	defer tick.Stop()
	for {
		st, err := p.aliasStatus(ctx, server, alias)
		switch {
		case err != nil:
			p.opts.logger.Debug("pool: cannot sweep a shared value's copies", "server", server, "alias", alias, "err", err)
			return
		case st.Queued == 0 || grabber == nil && st.Queued == st.Running:
			return // none left; or the alias's worker runs it
		case grabber == nil && st.Workers == 0:
			if grabber, err = p.grabAlias(server, alias); err != nil {
				p.opts.logger.Debug("pool: cannot sweep a shared value's copies", "server", server, "alias", alias, "err", err)
				return
			}
			serving.Go(func() { grabber.Run() }) // until the deferred Close
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// aliasStatus is the job server's status line of alias (zero if it does
// not know it).
func (p *Pool) aliasStatus(ctx context.Context, server, alias string) (gearman.FunctionStatus, error) {
	var found gearman.FunctionStatus
	err := p.ask(ctx, server, func(a *gearman.Admin) error {
		all, err := a.Status(ctx)
		for _, st := range all {
			if st.Name == alias {
				found = st
			}
		}
		return err
	})
	return found, err
}

// grabAlias serves alias at server with a worker that fails each job
// unread.
func (p *Pool) grabAlias(server, alias string) (*gearman.Worker, error) {
	w, err := gearman.NewWorker([]string{server}, gearman.WithConcurrency(1), gearman.WithTLS(p.tls),
		gearman.WithDialTimeout(p.opts.dialTimeout), gearman.WithLogger(p.opts.logger),
		gearman.WithMaxPacketSize(sweptPacketSize),
		gearman.WithOversizeJobs(func(*gearman.Job, int) error { return errAbandonedCopy }))
	if err != nil {
		return nil, err
	}
	fail := func(context.Context, *gearman.Job) ([]byte, error) { return nil, errAbandonedCopy }
	if err := w.Register(alias, fail); err != nil {
		return nil, err
	}
	return w, nil
}

// sweptPacketSize is the packet limit of a sweep's worker: a copy's data
// is skipped, not read into memory.
const sweptPacketSize = 4 << 10
