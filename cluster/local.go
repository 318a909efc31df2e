package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/fanout"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/certs"
	"github.com/glimpse-go/glimpse/internal/gearmand"
	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/internal/tlsproxy"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
	"github.com/glimpse-go/glimpse/tasks"
	"github.com/glimpse-go/glimpse/tasks/periodic"
)

const (
	// localJobRetries is gearmand's --job-retries for a local cluster: a
	// job whose worker dies while running it is requeued, by default
	// forever, so a chunk that crashes its worker every time would hang
	// its map; after this many tries gearmand fails it (WORK_FAIL).
	localJobRetries = 3
	// localReadyTimeout bounds the wait for the worker to register when
	// ctx has no earlier deadline.
	localReadyTimeout = 10 * time.Second
	// localDrainTimeout bounds how long Close lets running chunks finish.
	localDrainTimeout = 10 * time.Second
)

// Local is a cluster on this machine: a managed gearmand on a free
// loopback port and a worker in this process. Make one with StartLocal.
type Local struct {
	gd     *gearmand.Process
	proxy  *tlsproxy.Proxy // in front of gd, with LocalConfig.TLS
	broker *broker.Broker
	brkRan chan error
	store  fanout.Store
	fan    *fanout.Worker
	fanRan chan error
	dir    string // gearmand's log; removed by Close
	worker *Worker
	ran    chan error // Worker.Run's result
	pool   *pool.Pool
	tasks  *tasks.Client // nil with LocalConfig.NoTasks
	tconf  config.Tasks
	// queues and periodic are LocalConfig's, for every worker it starts.
	queues   map[string]config.Queue
	periodic []periodic.Entry
	// tasksClose closes the store and Gearman client of tasks.
	tasksClose []func() error
	cfg        config.Client
	// keyFile is the cluster key's file, "" for none (LocalConfig).
	keyFile string

	mu sync.Mutex // guards worker and ran, which RestartWorker replaces

	// What a restarted worker is made with (see RestartWorker).
	wc        config.Worker
	logger    *slog.Logger
	obeyStops bool // false: the worker refuses quit and restart

	closeOnce sync.Once
	closeErr  error
}

// StartLocal starts a local cluster: gearmand (from the Debian package
// gearman-job-server) on a free 127.0.0.1 port and an in-process worker
// with workers slots (GOMAXPROCS if workers <= 0) serving every registered
// function. It returns once gearmand lists the worker for each of them,
// so a map can start at once. ctx bounds the start only.
//
// gearmand runs with --job-retries=3: a chunk whose worker dies while
// running it is tried three times, then failed, instead of being retried
// forever. A fanout worker and a broker run too, on free loopback ports,
// so that Pool().Ping, the broadcast commands (both ways) and the log
// channel work; Config has all their addresses.
//
// The worker refuses the broadcast commands quit and restart (the reply
// says so, and glimpse-cluster quit exits 1): it lives inside your
// program, which decides when it ends. Ping and stats work.
//
// The worker logs warnings and errors to stderr. Close the cluster when
// done; it stops gearmand. StartLocalWith takes more settings.
func StartLocal(ctx context.Context, workers int) (*Local, error) {
	wc := config.DefaultWorker()
	wc.LogLevel = slog.LevelWarn
	wc.Slots = max(workers, 0)
	return StartLocalWith(ctx, LocalConfig{Worker: wc})
}

// LocalConfig is what StartLocalWith makes a local cluster with.
type LocalConfig struct {
	// Worker configures the in-process worker: Slots (GOMAXPROCS if 0),
	// Functions (all registered ones if empty), LogLevel and the
	// durations (zero means their defaults).
	Worker config.Worker
	// Log is where the worker, broker and fanout worker log, as text at
	// Worker.LogLevel; nil means stderr.
	Log io.Writer
	// ObeyStops makes the worker take the broadcast commands quit and
	// restart and hand them to Local.StopRequested, for a program that acts
	// on them (glimpse-cluster local stops, or calls RestartWorker). By
	// default the worker refuses them with a reply that says so.
	ObeyStops bool
	// KeyFile is the cluster key (see glimpse-cluster keygen) every
	// process of the local cluster uses; with GenerateKey and no KeyFile,
	// a fresh key is written (mode 0600) in the cluster's temporary
	// directory. Neither: no key, as on a trusted network.
	KeyFile     string
	GenerateKey bool
	// TLS puts a TLS proxy in front of gearmand (which listens on
	// 127.0.0.1 and has no TLS of its own), with a certificate from a
	// throwaway CA made for this cluster: Config's job server is the
	// proxy, with tls on and tls_ca_file naming the CA's certificate (in
	// a temporary directory that Close removes). The worker, the fanout
	// worker and the pool all connect over TLS.
	TLS bool
	// Tasks configures durable tasks (package tasks): the worker runs
	// them, and Local.Tasks enqueues them, with records in an SQLite file
	// in the cluster's temporary directory; zero fields take their
	// defaults (Serve is ignored). NoTasks turns tasks off.
	Tasks   config.Tasks
	NoTasks bool
	// Queues are the task queues' limits ([queue NAME] sections) and
	// Periodic the periodic tasks ([periodic NAME]) the worker applies
	// and runs (WithTaskQueues, WithPeriodic).
	Queues   map[string]config.Queue
	Periodic []periodic.Entry
}

// StartLocalWith is StartLocal with the worker's config, the log's
// destination, and whether the worker obeys quit and restart.
func StartLocalWith(ctx context.Context, cfg LocalConfig) (_ *Local, err error) {
	wc, logOut, obeyStops := cfg.Worker, cfg.Log, cfg.ObeyStops
	wc.Slots = max(wc.Slots, 0)
	if logOut == nil {
		logOut = os.Stderr
	}
	logger := newLogger(logOut, wc.LogLevel)

	dir, err := os.MkdirTemp("", "glimpse-local-")
	if err != nil {
		return nil, fmt.Errorf("cluster: start local cluster: %w", err)
	}
	l := &Local{dir: dir, wc: wc, logger: logger, obeyStops: obeyStops, queues: cfg.Queues, periodic: cfg.Periodic}
	if !cfg.NoTasks {
		l.tconf = cfg.Tasks
		l.tconf.Serve = true
	}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	if l.keyFile, err = localKeyFile(cfg, dir); err != nil {
		return nil, fmt.Errorf("cluster: start local cluster: %w", err)
	}
	if err := l.startServices(ctx, cfg.TLS); err != nil {
		return nil, fmt.Errorf("cluster: start local cluster: %w", err)
	}
	if l.worker, l.ran, err = l.startWorker(ctx); err != nil {
		return nil, fmt.Errorf("cluster: start local cluster: %w", err)
	}
	l.pool, err = pool.New(l.cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster: start local cluster: %w", err)
	}
	if l.tconf.Serve {
		if l.tasks, err = l.openTasks(ctx); err != nil {
			return nil, fmt.Errorf("cluster: start local cluster: %w", err)
		}
	}
	return l, nil
}

// tasksStore is the local cluster's task store, in its directory.
func (l *Local) tasksStore() string { return filepath.Join(l.dir, "tasks.db") }

// openTasks returns a tasks client on the local cluster.
func (l *Local) openTasks(ctx context.Context) (*tasks.Client, error) {
	db, err := store.Open(ctx, l.tasksStore())
	if err != nil {
		return nil, err
	}
	gc, err := tasks.DialJobServers(ctx, l.cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	c, err := tasks.NewClient(ctx, db, gc, l.tconf, tasks.WithLogger(l.logger))
	if err != nil {
		gc.Close()
		db.Close()
		return nil, err
	}
	l.tasksClose = []func() error{gc.Close, db.Close}
	return c, nil
}

// Tasks returns a tasks client on the local cluster (nil with
// LocalConfig.NoTasks). Close closes it.
func (l *Local) Tasks() *tasks.Client { return l.tasks }

// TasksStore is the SQLite file of the local cluster's task records ("" with
// LocalConfig.NoTasks), for other processes on this machine
// ([tasks] store).
func (l *Local) TasksStore() string {
	if !l.tconf.Serve {
		return ""
	}
	return l.tasksStore()
}

// gearmandQueue is the local gearmand's persistent queue, which keeps the
// task jobs across a gearmand restart. gearmand creates the table itself;
// made here first, in WAL mode, it takes jobs about 4 times as fast as in
// the rollback journal that gearmand's own file gets.
func (l *Local) gearmandQueue(ctx context.Context) (string, error) {
	path := filepath.Join(l.dir, "gearmand-queue.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		return "", err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS gearman_queue ( unique_key TEXT, function_name TEXT, priority INTEGER, data BLOB, when_to_run INTEGER, PRIMARY KEY (unique_key, function_name))`)
	return path, err
}

// startServices starts what the local cluster's worker needs: gearmand
// (behind a TLS proxy with withTLS), the broker and the fanout worker,
// filling in l.cfg with their addresses. What it started is in l, for
// Close, even when it fails.
func (l *Local) startServices(ctx context.Context, withTLS bool) (err error) {
	args := []string{fmt.Sprintf("--job-retries=%d", localJobRetries)}
	if l.tconf.Serve {
		queue, err := l.gearmandQueue(ctx)
		if err != nil {
			return err
		}
		args = append(args, "-q", "libsqlite3", "--libsqlite3-db", queue)
	}
	l.gd, err = gearmand.Start(ctx, gearmand.Options{
		Args:    args,
		LogFile: filepath.Join(l.dir, "gearmand.log"),
	})
	if err != nil {
		return err
	}
	l.cfg = config.Client{JobServers: []string{l.gd.Addr()}, KeyFile: l.keyFile}
	if withTLS {
		if err := l.startTLSProxy(); err != nil {
			return err
		}
	}
	if err := l.startBroker(); err != nil {
		return err
	}
	return l.startFanout()
}

// startTLSProxy makes a throwaway CA and a certificate for 127.0.0.1,
// starts a TLS proxy to gearmand on a free loopback port, and points
// l.cfg at it, over TLS, trusting that CA only.
func (l *Local) startTLSProxy() error {
	ca, err := certs.NewCA("glimpse-go local cluster CA")
	if err != nil {
		return err
	}
	caFile, err := ca.WriteCA(l.dir, "ca.pem")
	if err != nil {
		return err
	}
	cert, err := ca.Server("127.0.0.1", "localhost")
	if err != nil {
		return err
	}
	l.proxy, err = tlsproxy.Listen("127.0.0.1:0", tlsproxy.Config{
		TLS:     &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Backend: l.gd.Addr(),
		Logger:  l.logger,
	})
	if err != nil {
		return err
	}
	l.cfg = config.Client{JobServers: []string{l.proxy.Addr()}, TLS: true, TLSCAFile: caFile}
	return nil
}

// startBroker starts the broker, which carries the command and log
// channels, on free loopback ports; with a key, CURVE admits only its
// holders.
func (l *Local) startBroker() (err error) {
	key, err := auth.LoadKeyFile(l.keyFile)
	if err != nil {
		return err
	}
	any := "tcp://127.0.0.1:*"
	l.broker, err = broker.New(config.Server{CommandFrontendURL: any, CommandBackendURL: any, LogFrontendURL: any, LogBackendURL: any},
		broker.WithLogger(l.logger), broker.WithKey(key))
	if err != nil {
		return err
	}
	l.brkRan = make(chan error, 1)
	go func() { l.brkRan <- l.broker.Serve() }()
	a := l.broker.Addrs()
	l.cfg.CommandFrontendURL, l.cfg.CommandBackendURL = a.CommandFrontendURL, a.CommandBackendURL
	l.cfg.LogFrontendURL, l.cfg.LogBackendURL = a.LogFrontendURL, a.LogBackendURL
	return nil
}

// startFanout starts the fanout worker, which carries broadcast commands
// (Pool.Ping, glimpse-cluster ping and quit); its subscriber list lives in
// the cluster's temp dir.
func (l *Local) startFanout() (err error) {
	if l.store, err = fanout.OpenStore(filepath.Join(l.dir, "fanout.db")); err != nil {
		return err
	}
	l.fan, err = fanout.NewWorker(l.cfg, config.DefaultFanout(),
		fanout.WithStore(l.store), fanout.WithLogger(l.logger))
	if err != nil {
		return err
	}
	l.fanRan = make(chan error, 1)
	go func() { l.fanRan <- l.fan.Run() }()
	return nil
}

// startWorker starts a worker for the local cluster and returns once it
// serves every function and is subscribed to the command topic, with the
// channel that gets its Run's result.
func (l *Local) startWorker(ctx context.Context) (*Worker, chan error, error) {
	opts := []WorkerOption{WithLogger(l.logger)}
	if l.tconf.Serve {
		opts = append(opts, WithTasks(l.tasksStore(), l.tconf), WithTaskQueues(l.queues), WithPeriodic(l.periodic...))
	}
	w, err := NewWorker(l.cfg, l.wc, opts...)
	if err != nil {
		return nil, nil, err
	}
	if !l.obeyStops {
		w.refuseStops(inProgramRefusal)
	}
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	err = waitRegistered(ctx, l.gd.Addr(), w)
	if err == nil {
		err = waitSubscribed(ctx, l.fan, w.ID())
	}
	if err != nil {
		w.Close()
		<-ran
		return nil, nil, err
	}
	return w, ran, nil
}

// Worker returns the cluster's in-process worker: after RestartWorker,
// the new one.
func (l *Local) Worker() *Worker {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.worker
}

// StopRequested delivers the quit or restart that the current worker
// took; only with LocalConfig.ObeyStops (else the worker refuses them and
// nothing arrives here). After RestartWorker, read it again: it is the new
// worker's channel.
func (l *Local) StopRequested() <-chan StopRequest { return l.Worker().StopRequested() }

// RestartWorker replaces the in-process worker with a new one (a new id,
// fresh counters, the same functions and config): the new one registers
// with gearmand and subscribes to the commands first, so chunks never
// wait, then the old one drains (at most 10s; then its unfinished chunks
// go back to gearmand for the new one). gearmand, the broker and the
// fanout worker stay. If the new worker cannot start, the old one keeps
// serving and the error says why. Not safe to call concurrently with
// Close.
func (l *Local) RestartWorker(ctx context.Context) error {
	w, ran, err := l.startWorker(ctx)
	if err != nil {
		return fmt.Errorf("cluster: restart the local worker: %w", err)
	}
	l.mu.Lock()
	old, oldRan := l.worker, l.ran
	l.worker, l.ran = w, ran
	l.mu.Unlock()
	l.logger.Info("restarted the local worker", "old", old.ID(), "new", w.ID())
	dctx, cancel := context.WithTimeout(context.Background(), localDrainTimeout)
	defer cancel()
	err = old.Shutdown(dctx)
	<-oldRan
	if err != nil {
		// The new worker serves; the old one's chunks went back to gearmand.
		l.logger.Warn("drain of the old local worker cut short", "worker", old.ID(), "err", err)
	}
	return nil
}

// waitRegistered polls gearmand's "workers" listing until w's connection
// lists every function w serves: before that a map would find no worker.
func waitRegistered(ctx context.Context, addr string, w *Worker) error {
	ctx, cancel := context.WithTimeout(ctx, localReadyTimeout)
	defer cancel()
	a, err := gearman.DialAdmin(ctx, addr)
	if err != nil {
		return fmt.Errorf("ask gearmand for its workers: %w", err)
	}
	defer a.Close()
	id := wire.WorkerClientID(w.ID(), w.Slots())
	want := make([]string, len(w.funcs))
	for i, f := range w.funcs {
		want[i] = f.GearmanName()
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		ws, err := a.Workers(ctx)
		if err != nil {
			return fmt.Errorf("wait for the worker to register with gearmand: %w", err)
		}
		for _, wi := range ws {
			if wi.ClientID == id && containsAll(wi.Functions, want) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the worker to register with gearmand: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// waitSubscribed polls the fanout worker until the worker has subscribed
// to the command topic: before that a ping would not reach it.
func waitSubscribed(ctx context.Context, fan *fanout.Worker, workerID string) error {
	ctx, cancel := context.WithTimeout(ctx, localReadyTimeout)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		// The fanout worker's own list, not the store: a broadcast is
		// copied to what the fanout worker has loaded.
		if slices.Contains(fan.Subscribers(wire.CommandTopic), workerID) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the worker to subscribe to %s: %w", wire.CommandTopic, ctx.Err())
		case <-tick.C:
		}
	}
}

func containsAll(have, want []string) bool {
	for _, s := range want {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}

// Pool returns a pool on the local cluster. Close closes it.
func (l *Local) Pool() *pool.Pool { return l.pool }

// Config returns the client configuration of the local cluster: its
// gearmand's address (with LocalConfig.TLS, its TLS proxy's and the CA
// file), for other programs to join it.
func (l *Local) Config() config.Client {
	c := l.cfg
	c.JobServers = slices.Clone(c.JobServers)
	return c
}

// Close stops the local cluster: the worker finishes its running chunks
// (for at most 10s, then they are cut off), then the pool is closed and
// gearmand stopped. Calling it again returns the first call's result.
func (l *Local) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.close() })
	return l.closeErr
}

func (l *Local) close() error {
	var errs []error
	if l.worker != nil {
		ctx, cancel := context.WithTimeout(context.Background(), localDrainTimeout)
		if err := l.worker.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
		if err := <-l.ran; !errors.Is(err, ErrWorkerClosed) {
			errs = append(errs, err)
		}
	}
	if l.fan != nil {
		ctx, cancel := context.WithTimeout(context.Background(), localDrainTimeout)
		if err := l.fan.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
		if err := <-l.fanRan; !errors.Is(err, fanout.ErrWorkerClosed) {
			errs = append(errs, err)
		}
	}
	if l.store != nil {
		if err := l.store.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if l.broker != nil {
		ctx, cancel := context.WithTimeout(context.Background(), localDrainTimeout)
		if err := l.broker.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
		if err := <-l.brkRan; !errors.Is(err, broker.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if l.pool != nil {
		if err := l.pool.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if l.tasks != nil {
		errs = append(errs, l.tasks.Close())
		for _, f := range l.tasksClose {
			errs = append(errs, f())
		}
	}
	if l.proxy != nil {
		if err := l.proxy.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if l.gd != nil {
		if err := l.gd.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(l.dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cluster: close local cluster: %w", err)
	}
	return nil
}

// localKeyFile is the key file a local cluster uses: cfg's, or a new one
// in dir with GenerateKey, or none.
func localKeyFile(cfg LocalConfig, dir string) (string, error) {
	if cfg.KeyFile != "" || !cfg.GenerateKey {
		return cfg.KeyFile, nil
	}
	k, err := auth.GenerateKey()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "cluster.key")
	return path, k.WriteFile(path)
}

// Broker is the local cluster's broker.
func (l *Local) Broker() *broker.Broker { return l.broker }

// Fanout is the local cluster's fanout worker.
func (l *Local) Fanout() *fanout.Worker { return l.fan }
