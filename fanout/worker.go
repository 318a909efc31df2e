package fanout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
)

// ErrWorkerClosed is returned by Run after Shutdown or Close.
var ErrWorkerClosed = errors.New("fanout: worker closed")

// DefaultConcurrency is how many jobs a fanout worker serves at once. A
// foreground fanout mostly waits for its copies, so this is far above the
// CPU count.
const DefaultConcurrency = 64

// resyncInterval is how often the cache is re-read from the store even
// without an announcement, in case one was lost (a job server restarted
// with the reload message in its queue).
const resyncInterval = 5 * time.Minute

// adminTimeout bounds one round of admin "status" queries.
const adminTimeout = 5 * time.Second

// Option configures a Worker.
type Option func(*options)

type options struct {
	id          string
	logger      *slog.Logger
	concurrency int
	store       Store
	functions   []string // nil: all; for tests that need to steer jobs to one worker
}

// WithID sets the fanout worker's id: its client id on the job servers and
// its subscription to the matchmaking topic ("__matchmaking_<id>").
// Default: "fanout-<host>-<pid>-<random>", unique per process.
func WithID(id string) Option { return func(o *options) { o.id = id } }

// WithLogger sets where the worker logs (default: nowhere).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithConcurrency sets how many jobs (fanouts, subscriptions) the worker
// serves at once (default DefaultConcurrency).
func WithConcurrency(n int) Option { return func(o *options) { o.concurrency = n } }

// WithStore makes the worker use s instead of opening config.Fanout.Store.
// The worker does not close it.
func WithStore(s Store) Option { return func(o *options) { o.store = s } }

// withFunctions limits the protocol functions the worker registers, so a
// test can tell which of two workers serves a job.
func withFunctions(names ...string) Option { return func(o *options) { o.functions = names } }

type workerState int

const (
	stateNew workerState = iota
	stateRunning
	stateClosed
)

// Worker is a gearhorn-compatible fanout worker. Create it with NewWorker,
// serve with Run, stop with Shutdown (drain) or Close (at once), as with
// an http.Server.
type Worker struct {
	id       string
	cfg      config.Fanout
	log      *slog.Logger
	store    Store
	ownStore bool
	self     Subscription // our own matchmaking subscription

	gw      *gearman.Worker
	clients *clientPool
	served  *servedView
	cache   *subscriberCache

	ctx    context.Context // cancelled by Close and at the end of Shutdown
	cancel context.CancelFunc

	mu    sync.Mutex
	state workerState
	hk    sync.WaitGroup // housekeeping goroutine
	hkCtx context.Context
	hkEnd context.CancelFunc

	jobsMu     sync.Mutex
	jobsClosed bool
	jobs       sync.WaitGroup // job functions running

	// The housekeeping goroutine's own.
	unserved     map[Subscription]time.Time // since when a queue had no worker
	pruneBlocked bool                       // a job server did not answer last time
}

// NewWorker returns a fanout worker for the job servers ("host:port"),
// with the store, copy timeout and pruning delay of cfg. It opens the
// store, subscribes itself to the matchmaking topic and loads the
// subscriber list; the job servers are only contacted by Run.
func NewWorker(jobServers []string, cfg config.Fanout, opts ...Option) (*Worker, error) {
	o := options{logger: slog.New(slog.DiscardHandler), concurrency: DefaultConcurrency}
	for _, opt := range opts {
		opt(&o)
	}
	if o.store != nil && cfg.Store == "" {
		cfg.Store = "(given)" // only Validate looks at it
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("fanout: %w", err)
	}
	if o.concurrency < 1 {
		return nil, fmt.Errorf("fanout: concurrency %d is not positive", o.concurrency)
	}
	if o.id == "" {
		o.id = defaultID()
	}
	self := Subscription{Topic: MatchmakingTopic, ClientID: o.id}
	if err := checkName(o.id); err != nil {
		return nil, fmt.Errorf("fanout: worker id %q: %w", o.id, err)
	}
	gw, err := gearman.NewWorker(jobServers, gearman.WithLogger(o.logger),
		gearman.WithConcurrency(o.concurrency), gearman.WithClientID(o.id))
	if err != nil {
		return nil, fmt.Errorf("fanout: %w", err)
	}

	w := &Worker{
		id:       o.id,
		cfg:      cfg,
		log:      o.logger.With("fanout", o.id),
		store:    o.store,
		self:     self,
		gw:       gw,
		unserved: map[Subscription]time.Time{},
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.hkCtx, w.hkEnd = context.WithCancel(w.ctx)
	fail := func(err error) (*Worker, error) {
		w.cancel()
		if w.ownStore {
			w.store.Close()
		}
		return nil, err
	}
	if w.store == nil {
		if w.store, err = OpenStore(cfg.Store); err != nil {
			return fail(err)
		}
		w.ownStore = true
	}
	ctx, cancel := context.WithTimeout(w.ctx, storeOpenTimeout)
	defer cancel()
	if err := w.store.Subscribe(ctx, self.Topic, self.ClientID); err != nil {
		return fail(err)
	}
	w.cache = newSubscriberCache(w.store)
	if err := w.cache.reload(ctx); err != nil {
		return fail(err)
	}
	// gearman.NewWorker accepted the addresses; the admin protocol is
	// served on the same ports.
	w.served = newServedView(normalized(jobServers), adminTimeout)
	w.clients = &clientPool{
		servers: jobServers,
		// gearhorn's client id suffix, so the admin "workers" listing
		// shows whose connections these are.
		opts: []gearman.Option{gearman.WithLogger(o.logger), gearman.WithClientID(o.id + "_broadcaster")},
		max:  o.concurrency,
	}

	handlers := map[string]func(context.Context, *gearman.Job) ([]byte, error){
		FuncSubscribe:   w.subscribe,
		FuncUnsubscribe: w.unsubscribe,
		FuncFanout:      w.fanout,
	}
	names := o.functions
	if names == nil {
		names = []string{FuncSubscribe, FuncUnsubscribe, FuncFanout}
	}
	for _, name := range names {
		if err := gw.Register(name, w.job(handlers[name])); err != nil {
			return fail(fmt.Errorf("fanout: %w", err))
		}
	}
	if err := gw.Register(self.Queue(), w.job(w.matchmaking)); err != nil {
		return fail(fmt.Errorf("fanout: %w", err))
	}
	return w, nil
}

// ID returns the worker's id.
func (w *Worker) ID() string { return w.id }

// Run serves the fanout functions until Shutdown or Close, then returns
// ErrWorkerClosed. Job servers that are down, or go away, are redialled
// with backoff.
func (w *Worker) Run() error {
	w.mu.Lock()
	switch w.state {
	case stateRunning:
		w.mu.Unlock()
		return errors.New("fanout: worker is already running")
	case stateClosed:
		w.mu.Unlock()
		return ErrWorkerClosed
	}
	w.state = stateRunning
	w.hk.Add(1)
	go w.housekeep()
	w.mu.Unlock()
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
	if !w.stop() {
		return nil
	}
	uctx, cancel := context.WithTimeout(ctx, w.cfg.CopyTimeout)
	if err := w.store.Unsubscribe(uctx, w.self.Topic, w.self.ClientID); err != nil {
		w.log.Warn("cannot leave the matchmaking topic; the others will prune it", "err", err)
	} else if err := w.cache.reload(uctx); err == nil {
		w.announce(uctx)
	}
	cancel()
	err := w.gw.Shutdown(ctx)
	w.finish()
	return err
}

// Close stops at once: fanouts in progress end, their queued foreground
// copies are cancelled, and the job servers give the jobs this worker held
// to another fanout worker. It does not leave the matchmaking topic; the
// other workers prune it after config.Fanout.PruneAfter.
func (w *Worker) Close() error {
	w.stop()
	w.gw.Close()
	w.finish()
	return nil
}

// stop ends the housekeeping; false if the worker was already stopping.
func (w *Worker) stop() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state == stateClosed {
		return false
	}
	w.state = stateClosed
	w.hkEnd()
	return true
}

// finish waits for everything the worker started and releases it. It is
// idempotent: a Close after Shutdown lands here twice.
func (w *Worker) finish() {
	w.cancel()
	w.hk.Wait()
	w.jobsMu.Lock()
	w.jobsClosed = true
	w.jobsMu.Unlock()
	w.jobs.Wait()
	w.clients.close()
	w.served.close()
	w.mu.Lock()
	store := w.store
	own := w.ownStore
	w.ownStore = false
	w.mu.Unlock()
	if own {
		store.Close()
	}
}

// job wraps a handler so that Close can wait for it: gearman.Worker.Close
// does not wait for job functions, and ours use the store and clients
// that Close releases.
func (w *Worker) job(fn func(context.Context, *gearman.Job) ([]byte, error)) gearman.JobFunc {
	return func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		w.jobsMu.Lock()
		if w.jobsClosed {
			w.jobsMu.Unlock()
			return nil, ErrWorkerClosed
		}
		w.jobs.Add(1)
		w.jobsMu.Unlock()
		defer w.jobs.Done()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(w.ctx, cancel)
		defer stop()
		return fn(ctx, j)
	}
}

func (w *Worker) subscribe(ctx context.Context, j *gearman.Job) ([]byte, error) {
	sub, err := parseSubscribe(FuncSubscribe, j.Data)
	if err != nil {
		return nil, err
	}
	if err := w.store.Subscribe(ctx, sub.Topic, sub.ClientID); err != nil {
		return nil, fmt.Errorf("%s: %w", FuncSubscribe, err)
	}
	w.log.Info("subscribed", "topic", sub.Topic, "client_id", sub.ClientID)
	w.changed(ctx)
	return nil, nil // gearhorn completes with no data
}

func (w *Worker) unsubscribe(ctx context.Context, j *gearman.Job) ([]byte, error) {
	sub, err := parseSubscribe(FuncUnsubscribe, j.Data)
	if err != nil {
		return nil, err
	}
	if err := w.store.Unsubscribe(ctx, sub.Topic, sub.ClientID); err != nil {
		return nil, fmt.Errorf("%s: %w", FuncUnsubscribe, err)
	}
	w.log.Info("unsubscribed", "topic", sub.Topic, "client_id", sub.ClientID)
	w.changed(ctx)
	return nil, nil
}

// changed reloads our cache after a change to the store and tells the
// other fanout workers to reload theirs. The change is already committed,
// so a failure here is only logged: the periodic resync repairs it.
func (w *Worker) changed(ctx context.Context) {
	if err := w.cache.reload(ctx); err != nil {
		w.log.Warn("cannot reload the subscriber list", "err", err)
	}
	w.announce(ctx)
}

// reloadMessage is what a fanout worker sends to the matchmaking topic.
type reloadMessage struct {
	Op   string `json:"op"`   // "reload"
	From string `json:"from"` // the sender's id, so that it can ignore its own
}

// announce sends a background "reload" to every other fanout worker of the
// matchmaking topic. Background, so that a fanout worker that has died
// (until pruned) cannot hold up a subscription.
func (w *Worker) announce(ctx context.Context) error {
	var others []string
	for _, id := range w.cache.subscribers(MatchmakingTopic) {
		if id != w.id {
			others = append(others, id)
		}
	}
	if len(others) == 0 {
		return nil
	}
	msg := mustJSON(reloadMessage{Op: "reload", From: w.id})
	res := w.copyBackground(ctx, MatchmakingTopic, others, msg, "")
	if len(res.errs) > 0 {
		err := fmt.Errorf("fanout: announce a reload: %s", copyErrorText(res.errs))
		w.log.Warn("cannot tell the other fanout workers to reload", "err", err)
		return err
	}
	return nil
}

// matchmaking serves our "__matchmaking_<id>" queue: any message but our
// own makes us reload the subscriber list.
func (w *Worker) matchmaking(ctx context.Context, j *gearman.Job) ([]byte, error) {
	var m reloadMessage
	if json.Unmarshal(j.Data, &m) == nil && m.From == w.id {
		return []byte("ignored: own message"), nil
	}
	if err := w.cache.reload(ctx); err != nil {
		return nil, err
	}
	w.log.Debug("reloaded the subscriber list", "from", m.From)
	return []byte("reloaded"), nil
}

// copyResult is what became of the copies of one fanout.
type copyResult struct {
	delivered int
	replies   map[string][]byte // foreground: by client id
	errs      []CopyError       // in subscriber order
}

func (w *Worker) fanout(ctx context.Context, j *gearman.Job) ([]byte, error) {
	r, err := parseFanout(j.Data)
	if err != nil {
		return nil, err
	}
	subs := w.cache.subscribers(r.Topic)
	var res copyResult
	if r.Background {
		res = w.copyBackground(ctx, r.Topic, subs, r.payloadBytes(), r.Unique)
	} else {
		timeout := w.cfg.CopyTimeout
		if t := time.Duration(r.Timeout * float64(time.Second)); r.Timeout > 0 && t < timeout {
			timeout = max(t, time.Millisecond)
		}
		res = w.copyForeground(ctx, r.Topic, subs, r.payloadBytes(), r.Unique, timeout)
	}
	w.log.Debug("fanout", "topic", r.Topic, "subscribers", len(subs), "delivered", res.delivered,
		"failed", len(res.errs), "background", r.Background)
	if r.Collect {
		c := Collected{Replies: map[string]json.RawMessage{}, Errors: map[string]string{}}
		for id, reply := range res.replies {
			c.add(id, reply)
		}
		for _, e := range res.errs {
			c.Errors[e.ClientID] = e.Err
		}
		return json.Marshal(c)
	}
	if len(res.errs) > 0 {
		// gearhorn's form: the list of [client_id, error] pairs.
		data, _ := json.Marshal(res.errs)
		return nil, &gearman.JobException{Data: data}
	}
	return []byte(strconv.Itoa(res.delivered)), nil
}

// copyForeground submits a copy to every subscriber at once and waits for
// every one (each for at most timeout). delivered counts the copies
// that completed; a subscriber whose queue no job server has a worker for
// fails at once instead of waiting out the timeout.
func (w *Worker) copyForeground(ctx context.Context, topic string, subs []string, payload []byte, unique string, timeout time.Duration) copyResult {
	res := copyResult{replies: map[string][]byte{}}
	if len(subs) == 0 {
		return res
	}
	snap, err := w.served.get(ctx, time.Now())
	if err != nil {
		snap = &servedSnapshot{} // incomplete: skip no one, let timeouts decide
	} else if !snap.complete {
		w.log.Warn("cannot tell which subscribers have a worker; waiting for all", "err", snap.err)
	}
	type outcome struct {
		reply     []byte
		err       string
		abandoned bool // may still be queued on a job server
	}
	outcomes := make([]outcome, len(subs))
	var c *gearman.Client
	var wg sync.WaitGroup
	for i, id := range subs {
		queue := Subscription{Topic: topic, ClientID: id}.Queue()
		if snap.complete && !snap.served[queue] {
			outcomes[i].err = fmt.Sprintf("no worker registered for queue %q on any job server", queue)
			continue
		}
		if c == nil {
			if c, err = w.clients.get(ctx); err != nil {
				for k := i; k < len(subs); k++ {
					if outcomes[k].err == "" {
						outcomes[k].err = "cannot reach a job server: " + err.Error()
					}
				}
				break
			}
		}
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			reply, err := c.Call(cctx, queue, payload, gearman.WithUnique(unique))
			o := &outcomes[i]
			switch {
			case err == nil:
				o.reply = reply
			case cctx.Err() != nil:
				o.abandoned = true
				if ctx.Err() != nil {
					o.err = "fanout worker stopped before the copy finished; the copy was cancelled"
				} else {
					o.err = fmt.Sprintf("timed out after %v; the copy was cancelled", timeout)
				}
			default:
				o.err = copyErrorMessage(err)
			}
		})
	}
	wg.Wait()
	clean := true
	for i, o := range outcomes {
		if o.err != "" {
			res.errs = append(res.errs, CopyError{ClientID: subs[i], Err: o.err})
		} else {
			res.delivered++
			res.replies[subs[i]] = o.reply
		}
		clean = clean && !o.abandoned
	}
	if c != nil {
		// Closing the client is what makes gearmand drop abandoned copies.
		w.clients.put(c, clean)
	}
	return res
}

// copyBackground queues a background copy for every subscriber; delivered
// counts the copies the job servers accepted.
func (w *Worker) copyBackground(ctx context.Context, topic string, subs []string, payload []byte, unique string) copyResult {
	var res copyResult
	if len(subs) == 0 {
		return res
	}
	c, err := w.clients.get(ctx)
	if err != nil {
		for _, id := range subs {
			res.errs = append(res.errs, CopyError{ClientID: id, Err: "cannot reach a job server: " + err.Error()})
		}
		return res
	}
	errs := make([]string, len(subs))
	var wg sync.WaitGroup
	for i, id := range subs {
		queue := Subscription{Topic: topic, ClientID: id}.Queue()
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, w.cfg.CopyTimeout)
			defer cancel()
			if _, err := c.SubmitBackground(cctx, queue, payload, gearman.WithUnique(unique)); err != nil {
				errs[i] = copyErrorMessage(err)
			}
		})
	}
	wg.Wait()
	for i, e := range errs {
		if e != "" {
			res.errs = append(res.errs, CopyError{ClientID: subs[i], Err: e})
		} else {
			res.delivered++
		}
	}
	// A background job outlives its connection whatever happens to it.
	w.clients.put(c, true)
	return res
}

func copyErrorMessage(err error) string {
	var ex *gearman.JobException
	switch {
	case errors.As(err, &ex):
		return string(ex.Data) // the subscriber's own words, as gearhorn passes them on
	case errors.Is(err, gearman.ErrJobFailed):
		return "worker failure (WORK_FAIL)"
	}
	return err.Error()
}

func copyErrorText(errs []CopyError) string {
	b, _ := json.Marshal(errs)
	return string(b)
}

// housekeep announces this worker to the others, prunes subscribers whose
// queue has lost its workers, and resyncs the cache now and then.
func (w *Worker) housekeep() {
	defer w.hk.Done()
	ctx := w.hkCtx
	tick := time.NewTicker(pruneInterval(w.cfg.PruneAfter))
	defer tick.Stop()
	announced := false
	lastSync := time.Now()
	for {
		if !announced {
			// The others learn of our matchmaking subscription this way.
			// Retried each tick while no job server is reachable.
			announced = w.announce(ctx) == nil
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if time.Since(lastSync) >= resyncInterval {
			if err := w.cache.reload(ctx); err != nil {
				w.log.Warn("cannot resync the subscriber list", "err", err)
			} else {
				lastSync = time.Now()
			}
		}
		w.prune(ctx)
	}
}

// pruneInterval is how often queues are checked: often enough that a dead
// subscriber goes within 1.25 x PruneAfter, rarely enough to cost nothing.
func pruneInterval(after time.Duration) time.Duration {
	return min(max(after/4, 50*time.Millisecond), 15*time.Second)
}

// prune removes the subscriptions whose queue has had no worker on any job
// server for PruneAfter, as this worker observed it. The clock is in
// memory: a restarted fanout worker starts counting again, which only
// delays pruning. While a job server does not answer, nobody is pruned,
// since the missing workers may be connected to it.
func (w *Worker) prune(ctx context.Context) {
	snap, err := w.served.get(ctx, time.Now())
	if err != nil {
		return
	}
	now := time.Now()
	current := map[Subscription]bool{}
	var doomed []Subscription
	for _, s := range w.cache.all() {
		current[s] = true
		if s == w.self {
			continue // we are alive; only the others can prune us
		}
		if snap.served[s.Queue()] {
			delete(w.unserved, s)
			continue
		}
		if !snap.complete {
			continue
		}
		since, seen := w.unserved[s]
		if !seen {
			w.unserved[s] = now
			continue
		}
		if now.Sub(since) >= w.cfg.PruneAfter {
			doomed = append(doomed, s)
		}
	}
	for s := range w.unserved {
		if !current[s] {
			delete(w.unserved, s)
		}
	}
	if !snap.complete != w.pruneBlocked {
		w.pruneBlocked = !snap.complete
		if w.pruneBlocked {
			w.log.Warn("not pruning while a job server does not answer the admin status command", "err", snap.err)
		} else {
			w.log.Info("every job server answers again; pruning resumes")
		}
	}
	if len(doomed) == 0 {
		return
	}
	if err := w.store.Remove(ctx, doomed...); err != nil {
		w.log.Warn("cannot prune subscribers", "err", err)
		return
	}
	for _, s := range doomed {
		delete(w.unserved, s)
		w.log.Info("pruned subscriber: no worker for its queue", "topic", s.Topic, "client_id", s.ClientID,
			"queue", s.Queue(), "for", w.cfg.PruneAfter)
	}
	w.changed(ctx)
}

func defaultID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	b := make([]byte, 3)
	rand.Read(b)
	return fmt.Sprintf("fanout-%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// normalized adds gearmand's default port to addresses written without
// one, as gearman.NewWorker does, for the admin connections.
func normalized(addrs []string) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(strings.Trim(a, "[]"), strconv.Itoa(gearman.DefaultPort))
		}
		out[i] = a
	}
	return out
}
