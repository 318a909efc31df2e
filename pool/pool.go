package pool

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/runners"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// ErrNoWorkers is returned by a map whose function no worker serves on
// any job server (checked with the admin protocol before submitting, or
// known from a recent answer; see workercache.go), so that the map fails
// instead of waiting forever.
var ErrNoWorkers = errors.New("pool: no worker serves the function")

// ErrCrashLoop is wrapped by the error of a map one of whose chunks went
// to more workers than its retries allow, none of which answered: they
// died or vanished running it, as when an item crashes the worker process.
var ErrCrashLoop = errors.New("pool: every worker that took the chunk died or vanished")

// ErrClosed is returned by maps on a closed Pool.
var ErrClosed = errors.New("pool: closed")

// Pool is a client's handle on a cluster: its job servers and, once the
// command channel exists, its broker. It is safe for concurrent use; any
// number of maps may run on it at once.
type Pool struct {
	cfg  config.Client
	opts poolOptions
	key  *auth.Key   // the cluster key (cfg.KeyFile); nil: none
	tls  *tls.Config // cfg's TLS to the job servers; nil: plaintext

	runners *runners.Set // the chunk copies' goroutines (runCopy), reused

	// Answers and notices that failed the key check (forged.go), the
	// workers that passed it, and the warnings naming suspects (rogue.go).
	forgedResults atomic.Int64
	forgedNotices atomic.Int64
	known         knownWorkers
	rogueReport   auth.Refusals // forged answers; paces the admin questions about them

	mu     sync.Mutex
	idle   []*gearman.Client // connections of maps that ended cleanly
	shared []*sharedClient   // connections of single-chunk maps (shared.go)
	// sharedDial is held by the map dialling a shared connection.
	sharedDial chan struct{}
	admins     map[string]*gearman.Admin // nil once closed
	closed     bool                      // no new maps
	running    map[*runningMap]struct{}
	silent     map[string]silence // admin ports that left a question unanswered

	workers workerCache // the job servers' last "workers" answers, for maps

	announce *announcer   // maps in progress, on the log channel (announce.go)
	sweeper  aliasSweeper // sweeps of shared values' abandoned copies (sharedsweep.go)
	counters poolCounters // for Stats and Collector (metrics.go)
	direct   directPath   // the data server of the direct path (direct.go)

	// Map ids: a random start per pool (ids must not meet another
	// client's at a job server, which would coalesce their chunks) and a
	// counter, instead of crypto/rand per map.
	mapIDStart uint64
	mapIDs     atomic.Uint64
}

// runningMap is a map in progress, as the pool sees it: Close cancels it
// and waits for it to end.
type runningMap struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// silence is an admin port's unanswered question: it is not asked again
// until the time is up, so that a hung server costs one request timeout
// now and then instead of one per question.
type silence struct {
	err   error
	until time.Time
}

// New connects to the job servers of cfg. It fails if none is reachable.
func New(cfg config.Client, opts ...Option) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pool: %w", err)
	}
	key, err := auth.LoadKeyFile(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("pool: %w", err)
	}
	o := buildPoolOptions(opts)
	if err := checkDirectAddr(cfg, o.directAddr); err != nil {
		return nil, err
	}
	tlsConf, err := cfg.TLSConfig()
	if err != nil {
		return nil, fmt.Errorf("pool: %w", err)
	}
	p := &Pool{cfg: cfg, opts: o, tls: tlsConf, key: key, runners: runners.New(maxIdleRunners), rogueReport: auth.Refusals{Every: rogueReportEvery},
		admins: map[string]*gearman.Admin{}, silent: map[string]silence{}, running: map[*runningMap]struct{}{},
		mapIDStart: rand.Uint64(), sharedDial: make(chan struct{}, 1)}
	auth.WarnIfNoKey(p.opts.logger, key, "pool")
	p.direct.configure(cfg, p.opts)
	p.announce = newAnnouncer(p)
	// A safety net: the dial and the handshake have bounds of their own.
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.dialTimeout+p.opts.requestTimeout)
	defer cancel()
	c, err := p.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("pool: %w", err)
	}
	p.release(c)
	return p, nil
}

// FromConfigFile reads a config file (see package config) and connects to
// its cluster: glimpse's MakePool(config_file).
func FromConfigFile(path string, opts ...Option) (*Pool, error) {
	f, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	return New(f.Client, opts...)
}

// Config returns the configuration the pool was made with.
func (p *Pool) Config() config.Client { return p.cfg }

// closeWait bounds how long Close waits for running maps to end: they end
// as soon as they are cancelled, but first tell the workers running their
// chunks to stop (see cancelWait).
const closeWait = 3 * time.Second

// Close fails the maps still running with ErrClosed (their running chunks
// are cancelled on the workers, as when a map's context ends), then
// closes the pool's connections.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	running := make([]*runningMap, 0, len(p.running))
	for r := range p.running {
		running = append(running, r)
	}
	p.mu.Unlock()
	for _, r := range running {
		r.cancel(ErrClosed)
	}
	if !awaitMaps(running, closeWait) {
		p.opts.logger.Warn("pool: closing while maps still end", "maps", len(running))
	}
	p.sweeper.close()
	p.mu.Lock()
	idle, admins := p.idle, p.admins
	p.idle, p.admins = nil, nil
	p.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
	p.closeShared()
	for _, a := range admins {
		a.Close()
	}
	p.direct.close()
	p.workers.close()
	p.announce.close()
	p.runners.Stop()
	return nil
}

// awaitMaps waits up to d for the maps to end and reports whether they
// all did.
func awaitMaps(maps []*runningMap, d time.Duration) bool {
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for _, r := range maps {
		select {
		case <-r.done:
		case <-timeout.C:
			return false
		}
	}
	return true
}

// newMapID returns a map id, 16 hex digits: the pool's random start plus
// a counter. Two pools' ids meet only if their ranges of 2^64 overlap
// where they have counted, as unlikely as two random ids meeting.
func (p *Pool) newMapID() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], p.mapIDStart+p.mapIDs.Add(1))
	return hex.EncodeToString(b[:])
}

func (p *Pool) dial(ctx context.Context) (*gearman.Client, error) {
	return gearman.NewClient(ctx, p.cfg.JobServers, gearman.WithDialTimeout(p.opts.dialTimeout),
		gearman.WithTLS(p.tls), gearman.WithRequestTimeout(p.opts.requestTimeout),
		gearman.WithLogger(p.opts.logger), gearman.WithMaxPacketSize(p.opts.maxPacket))
}

// track registers a starting map so that Close can cancel it; ErrClosed
// if the pool is closed.
func (p *Pool) track(cancel context.CancelCauseFunc) (*runningMap, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	r := &runningMap{cancel: cancel, done: make(chan struct{})}
	p.running[r] = struct{}{}
	return r, nil
}

// untrack says that a map has ended.
func (p *Pool) untrack(r *runningMap) {
	p.mu.Lock()
	delete(p.running, r)
	p.mu.Unlock()
	close(r.done)
}

// acquire returns a client for one map. Each map has connections of its
// own so that closing them can cancel its queued jobs (gearmand drops a
// foreground job whose client left) without touching other maps.
func (p *Pool) acquire(ctx context.Context) (*gearman.Client, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	return p.spareClient(ctx)
}

// spareClient returns an idle client, or a new one, even while the pool
// closes: the maps that Close cancels use it to tell workers to stop.
func (p *Pool) spareClient(ctx context.Context) (*gearman.Client, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	return p.dial(ctx)
}

// maxIdleClients bounds the connections kept for later maps: enough for
// a thousand concurrent small maps to dial no more once warm (each one is
// two goroutines and a read buffer).
const maxIdleClients = 1024

// release keeps a client that has no job of its map left at any server.
func (p *Pool) release(c *gearman.Client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.idle) >= maxIdleClients {
		c.Close()
		return
	}
	p.idle = append(p.idle, c)
}

// WorkerSlots says how many worker slots serve a function, summed over
// the job servers that answer: a glimpse worker announces its slots in its
// client id; any other worker counts as one. It returns ErrNoWorkers when
// there are none.
func (p *Pool) WorkerSlots(ctx context.Context, f string) (int, error) {
	_, slots, err := p.workersOf(ctx, f)
	return slots, err
}

// workersOf returns the ids of the glimpse worker processes that serve f
// and the slots serving it, as WorkerSlots counts them, asking the job
// servers now (and refreshing the maps' cached answer).
func (p *Pool) workersOf(ctx context.Context, f string) (ids []string, slots int, err error) {
	return p.workers.refresh(ctx, p).serving(p.cfg.JobServers, f)
}

// serving counts the workers of a "workers" answer that serve f.
func (w *workerList) serving(servers []string, f string) (ids []string, slots int, err error) {
	gname := wire.GearmanPrefix + f
	var errs []error
	seen := map[string]bool{} // a worker process connects to every server
	for i, addr := range servers {
		for _, w := range w.workers[i] {
			if !contains(w.Functions, gname) {
				continue
			}
			id, n, ok := wire.ParseWorkerClientID(w.ClientID)
			if !ok {
				slots++
				continue
			}
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
				slots += n
			}
		}
		if err := w.errs[i]; err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
		}
	}
	if slots > 0 {
		return ids, slots, nil
	}
	if len(errs) == len(servers) {
		return nil, 0, fmt.Errorf("pool: cannot ask the job servers about %s: %w", f, errors.Join(errs...))
	}
	return nil, 0, fmt.Errorf("%w: %s (Gearman function %s)", ErrNoWorkers, f, gname)
}

// askWorkers asks every job server for its "workers" list, all at once, so
// that a hung server costs one request timeout and not one per server.
func (p *Pool) askWorkers(ctx context.Context) ([][]gearman.WorkerInfo, []error) {
	workers := make([][]gearman.WorkerInfo, len(p.cfg.JobServers))
	errs := make([]error, len(p.cfg.JobServers))
	var wg sync.WaitGroup
	for i, addr := range p.cfg.JobServers {
		wg.Go(func() {
			errs[i] = p.ask(ctx, addr, func(a *gearman.Admin) (err error) {
				workers[i], err = a.Workers(ctx)
				return err
			})
		})
	}
	wg.Wait()
	return workers, errs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ask puts one admin question (q) to the job server at addr, unless its
// admin port left one unanswered less than three request timeouts ago.
func (p *Pool) ask(ctx context.Context, addr string, q func(*gearman.Admin) error) error {
	p.mu.Lock()
	s, ok := p.silent[addr]
	p.mu.Unlock()
	if ok && time.Now().Before(s.until) {
		return fmt.Errorf("not asked, as it left a question unanswered lately: %w", s.err)
	}
	a, err := p.admin(ctx, addr)
	if err != nil {
		return err
	}
	err = q(a)
	var timeout *gearman.TimeoutError
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case errors.As(err, &timeout):
		p.silent[addr] = silence{err: err, until: time.Now().Add(3 * p.opts.requestTimeout)}
	case err == nil:
		delete(p.silent, addr)
	}
	return err
}

func (p *Pool) admin(ctx context.Context, addr string) (*gearman.Admin, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.admins == nil {
		return nil, ErrClosed
	}
	if a := p.admins[addr]; a != nil {
		return a, nil
	}
	a, err := gearman.DialAdmin(ctx, addr, gearman.WithDialTimeout(p.opts.dialTimeout),
		gearman.WithTLS(p.tls), gearman.WithRequestTimeout(p.opts.requestTimeout))
	if err != nil {
		return nil, err
	}
	p.admins[addr] = a
	return a, nil
}
