package fanout

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/lifecycle"
)

// ErrWorkerClosed is returned by Run after Shutdown or Close. It wraps
// lifecycle.ErrClosed, like every service's "closed".
var ErrWorkerClosed = fmt.Errorf("fanout: worker %w", lifecycle.ErrClosed)

// adminTimeout bounds one round of admin "status" queries.
const adminTimeout = 5 * time.Second

// Worker is a gearhorn-compatible fanout worker. Create it with NewWorker,
// serve with Run, stop with Shutdown (drain) or Close (at once), as with
// an http.Server.
//
// Its files, by concern: this one (creation and lifecycle), handlers.go
// (the protocol functions and matchmaking), copy.go (copying a job to the
// subscribers), prune.go (housekeeping: announcing, resyncing, pruning).
type Worker struct {
	id       string
	cfg      config.Fanout
	log      *slog.Logger
	store    Store
	ownStore bool
	self     Subscription // our own matchmaking subscription

	// key is the cluster key: with one, every request must be sealed
	// with it (auth.PurposeFanout); refused counts those that were not.
	key     *auth.Key
	refused auth.Refusals

	// The limits of cfg, defaults filled in.
	maxPayload, maxSubscribers int
	subMu                      sync.Mutex // one subscribe_fanout at a time (checkRoom)

	gw      *gearman.Worker
	clients *clientPool
	served  *servedView
	cache   *subscriberCache
	copies  copyCounters // for Stats (metrics.go)

	// life's Context ends the housekeeping (stopping begins); its
	// WorkContext ends the jobs in progress (Close, or the end of a
	// Shutdown). work holds both, so that release can wait for them
	// before closing the store and clients they use.
	life     lifecycle.Lifecycle
	work     lifecycle.Group
	released sync.Once

	// The housekeeping goroutine's own.
	unserved     map[Subscription]time.Time // since when a queue had no worker
	pruneBlocked bool                       // a job server did not answer last time
}

// NewWorker returns a fanout worker for client's job servers, with the
// store, copy timeout and pruning delay of cfg. It opens the store,
// subscribes itself to the matchmaking topic and loads the subscriber
// list; the job servers are only contacted by Run.
func NewWorker(client config.Client, cfg config.Fanout, opts ...Option) (*Worker, error) {
	o, err := buildOptions(client, cfg, opts)
	if err != nil {
		return nil, err
	}
	tlsConf, err := client.TLSConfig()
	if err != nil {
		return nil, fmt.Errorf("fanout: %w", err)
	}
	key, err := auth.LoadKeyFile(client.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("fanout: %w", err)
	}
	gw, err := gearman.NewWorker(client.JobServers, gearman.WithLogger(o.logger), gearman.WithTLS(tlsConf),
		gearman.WithConcurrency(o.concurrency), gearman.WithClientID(o.id))
	if err != nil {
		return nil, fmt.Errorf("fanout: %w", err)
	}
	w := &Worker{
		id:       o.id,
		cfg:      cfg,
		log:      o.logger.With("fanout", o.id),
		store:    o.store,
		self:     Subscription{Topic: MatchmakingTopic, ClientID: o.id},
		key:      key,
		gw:       gw,
		unserved: map[Subscription]time.Time{},
		// The admin protocol is served on the job servers' own ports.
		served: newServedView(client.JobServers, adminTimeout, gearman.WithTLS(tlsConf)),
		clients: &clientPool{
			servers: client.JobServers,
			// gearhorn's client id suffix, so the admin "workers"
			// listing shows whose connections these are.
			opts: []gearman.ClientOption{gearman.WithLogger(o.logger), gearman.WithTLS(tlsConf), gearman.WithClientID(o.id + "_broadcaster")},
			max:  o.concurrency,
		},
	}
	w.maxPayload = cmp.Or(cfg.MaxPayload, config.DefaultMaxPayload)
	w.maxSubscribers = cmp.Or(cfg.MaxSubscribers, config.DefaultMaxSubscribers)
	if err := w.open(); err != nil {
		w.release()
		return nil, err
	}
	if err := w.register(o.functions); err != nil {
		w.release()
		return nil, fmt.Errorf("fanout: %w", err)
	}
	return w, nil
}

// storeDSN returns cfg's store, or for an empty one the default file in
// the state directory, which it creates (mode 0700) if missing: never the
// working directory, which may be shared or world-readable.
func storeDSN(cfg config.Fanout) (string, error) {
	dsn, err := cfg.StorePath()
	if err != nil || cfg.Store != "" {
		return dsn, err
	}
	if err := os.MkdirAll(filepath.Dir(dsn), 0o700); err != nil {
		return "", fmt.Errorf("state directory: %w", err)
	}
	return dsn, nil
}

// open opens the store unless one was given, joins the matchmaking topic
// and loads the subscriber list.
func (w *Worker) open() error {
	if w.store == nil {
		dsn, err := storeDSN(w.cfg)
		if err != nil {
			return fmt.Errorf("fanout: %w", err)
		}
		s, err := OpenStore(dsn)
		if err != nil {
			return err
		}
		w.store, w.ownStore = s, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
	defer cancel()
	if err := w.store.Subscribe(ctx, w.self.Topic, w.self.ClientID); err != nil {
		return err
	}
	w.cache = newSubscriberCache(w.store)
	return w.cache.reload(ctx)
}

// register serves the protocol functions (names: all of them if nil) and
// our own matchmaking queue.
func (w *Worker) register(names []string) error {
	handlers := map[string]handler{
		FuncSubscribe:   w.subscribe,
		FuncUnsubscribe: w.unsubscribe,
		FuncFanout:      w.fanout,
	}
	if names == nil {
		names = []string{FuncSubscribe, FuncUnsubscribe, FuncFanout}
	}
	for _, name := range names {
		if err := w.gw.Register(name, w.job(handlers[name])); err != nil {
			return err
		}
	}
	return w.gw.Register(w.self.Queue(), w.job(w.matchmaking))
}

// ID returns the worker's id.
func (w *Worker) ID() string { return w.id }

// Run serves the fanout functions until Shutdown or Close, then returns
// ErrWorkerClosed. Job servers that are down, or go away, are redialled
// with backoff. A second Run while one is going fails with an error
// wrapping lifecycle.ErrRunning.
func (w *Worker) Run() error {
	if err := w.life.Begin(); err != nil {
		if errors.Is(err, lifecycle.ErrClosed) {
			return ErrWorkerClosed
		}
		return fmt.Errorf("fanout: worker: %w", err)
	}
	defer w.life.End()
	w.work.Go(w.housekeep) // refused if Close is already releasing
	err := w.gw.Run()
	if errors.Is(err, gearman.ErrWorkerClosed) {
		return ErrWorkerClosed
	}
	return err
}

// Shutdown stops taking jobs and lets the fanouts in progress finish, then
// closes the worker. First it leaves the matchmaking topic and tells the
// other fanout workers, so that they stop sending it reloads. If ctx ends
// before the fanouts do, the rest are cut short as by Close (their queued
// copies are cancelled) and ctx's error is returned.
func (w *Worker) Shutdown(ctx context.Context) error {
	if before := w.life.Stop(); before != lifecycle.Idle && before != lifecycle.Running {
		return nil // someone else is stopping it
	}
	w.leaveMatchmaking(ctx)
	err := w.gw.Shutdown(ctx)
	w.release()
	return err
}

// Close stops at once: fanouts in progress end, their queued foreground
// copies are cancelled, and the job servers give the jobs this worker held
// to another fanout worker. It does not leave the matchmaking topic; the
// other workers prune it after config.Fanout.PruneAfter.
func (w *Worker) Close() error {
	w.life.Stop()
	w.gw.Close()
	w.release()
	return nil
}

// leaveMatchmaking unsubscribes us from the matchmaking topic and tells
// the others, within the copy timeout. On failure the others prune us.
func (w *Worker) leaveMatchmaking(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.CopyTimeout)
	defer cancel()
	if err := w.store.Unsubscribe(ctx, w.self.Topic, w.self.ClientID); err != nil {
		w.log.Warn("cannot leave the matchmaking topic; the others will prune it", "err", err)
	} else if err := w.cache.reload(ctx); err == nil {
		w.announce(ctx)
	}
}

// release cancels the jobs, waits for them and the housekeeping, then
// frees what they used. It runs once: a Close during or after Shutdown
// waits for the first release to end.
func (w *Worker) release() {
	w.released.Do(func() {
		w.life.Cancel()
		w.work.Close()
		w.work.Wait(context.Background()) // the jobs' context is cancelled: they end soon
		w.clients.close()
		w.served.close()
		if w.ownStore {
			w.store.Close()
		}
	})
}

// handler is one protocol function, as job wraps it.
type handler = func(context.Context, *gearman.Job) ([]byte, error)

// job wraps a handler so that release can wait for it (gearman.Worker's
// Close does not wait for job functions, and ours use the store and
// clients that release closes) and so that Close cancels it.
func (w *Worker) job(fn handler) gearman.JobFunc {
	return func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		if !w.work.Enter() {
			return nil, ErrWorkerClosed
		}
		defer w.work.Leave()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(w.life.WorkContext(), cancel)
		defer stop()
		return fn(ctx, j)
	}
}
