package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// WatchOptions tune Watch; the zero value is the defaults.
type WatchOptions struct {
	// PollEvery is how often the job servers are asked about their
	// functions and workers (default 2s).
	PollEvery time.Duration
	// StaleAfter marks a worker whose heartbeat is this late (default
	// three of config.DefaultHeartbeatInterval).
	StaleAfter time.Duration
	// Log gets the watcher's own troubles; nil: none.
	Log *slog.Logger
	// Pool, if set, pings the workers once at the start, so that their
	// rows are complete before their first heartbeat.
	Pool *pool.Pool
}

func (o WatchOptions) withDefaults() WatchOptions {
	if o.PollEvery <= 0 {
		o.PollEvery = 2 * time.Second
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 3 * config.DefaultHeartbeatInterval
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// logChannel names the log channel among the page's problems.
const logChannel = "log channel"

// requestTimeout bounds each question to a job server.
const requestTimeout = 5 * time.Second

// Cluster is the Source of a real cluster: it follows the log channel
// (heartbeats, log records, map announcements) and asks the job servers'
// admin ports every PollEvery. Close stops it.
type Cluster struct {
	cfg   config.Client
	opts  WatchOptions
	key   *auth.Key
	sub   *broker.Subscriber   // nil with no broker URLs
	admin func() []adminOption // the admin connections' options (TLS)

	stop   context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once
	first  chan struct{} // closed once the job servers (and the ping) first answered

	state *state
}

// Watch starts watching the cluster of cfg. With no broker URLs in cfg
// it shows the job servers only. With no broker (cfg.Direct) it binds the
// log channel, as `glimpse-cluster logs` does.
func Watch(cfg config.Client, opts WatchOptions) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	key, err := auth.LoadKeyFile(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	admin, err := adminOptions(cfg)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	opts = opts.withDefaults()
	c := &Cluster{cfg: cfg, opts: opts, key: key, admin: admin, state: newState(opts.StaleAfter), first: make(chan struct{})}
	if cfg.HasBroker() {
		if c.sub, err = logSubscriber(cfg, key); err != nil {
			return nil, fmt.Errorf("dashboard: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	if c.sub != nil {
		c.wg.Go(func() { c.listen(ctx) })
	}
	c.wg.Go(func() { c.poll(ctx) })
	return c, nil
}

// pingTimeout bounds the ping at the start.
const pingTimeout = 3 * time.Second

// Ready waits until the job servers have answered once (and the ping at
// the start, with WatchOptions.Pool), or ctx ends: for a one-shot view.
func (c *Cluster) Ready(ctx context.Context) error {
	select {
	case <-c.first:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ping files the workers' answers to a ping as heartbeats.
func (c *Cluster) ping(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	stats, err := c.opts.Pool.Ping(ctx)
	if err != nil && ctx.Err() == nil {
		c.opts.Log.Warn("dashboard: ping", "err", err)
	}
	now := time.Now()
	for _, st := range stats {
		c.state.heartbeat(st, now)
	}
}

// logSubscriber subscribes to what the dashboard shows on the log
// channel: at the broker's backend, or bound with no broker.
func logSubscriber(cfg config.Client, key *auth.Key) (*broker.Subscriber, error) {
	peers := broker.Peers{Key: key, MaxMessageSize: cfg.ZMQMaxMessageSize}
	return peers.LogSubscriber(cfg, wire.TopicLog, wire.TopicHeartbeat, wire.TopicMap)
}

// Close stops watching; it returns once its goroutines have.
func (c *Cluster) Close() error {
	c.closed.Do(func() {
		c.stop()
		c.wg.Wait()
		if c.sub != nil {
			c.sub.Close()
		}
		c.state.closeLogs()
	})
	return nil
}

// Snapshot implements Source.
func (c *Cluster) Snapshot(context.Context) Snapshot { return c.state.snapshot(time.Now()) }

// Logs implements Source.
func (c *Cluster) Logs(ctx context.Context) <-chan LogRecord { return c.state.follow(ctx) }

// listen reads the log channel until ctx ends.
func (c *Cluster) listen(ctx context.Context) {
	failing := false
	for {
		topic, parts, err := c.sub.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failing = true
			c.state.problem(logChannel, err)
			if !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		if failing {
			failing = false
			c.state.problem(logChannel, nil)
		}
		if len(parts) != 1 {
			continue
		}
		data, err := c.key.Open(auth.PurposeLog, parts[0], []byte(topic))
		if err != nil {
			continue // not sealed with this cluster's key: not shown
		}
		c.state.take(topic, data, time.Now())
	}
}

// poll asks the job servers every PollEvery until ctx ends.
func (c *Cluster) poll(ctx context.Context) {
	tick := time.NewTicker(c.opts.PollEvery)
	defer tick.Stop()
	var pinged sync.WaitGroup
	if c.opts.Pool != nil {
		pinged.Go(func() { c.ping(ctx) })
	}
	for first := true; ; first = false {
		c.askServers(ctx)
		if first {
			pinged.Wait()
			close(c.first)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// askServers asks every job server at once, each within requestTimeout.
func (c *Cluster) askServers(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	reports := make([]serverReport, len(c.cfg.JobServers))
	var wg sync.WaitGroup
	for i, addr := range c.cfg.JobServers {
		wg.Go(func() { reports[i] = askServer(ctx, addr, c.admin()...) })
	}
	wg.Wait()
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		return // stopping
	}
	c.state.servers(reports, time.Now())
}

// sleep waits d or until ctx ends; false if ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
