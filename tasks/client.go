package tasks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/store"
)

// Client enqueues tasks and looks them up. It is safe for any number of
// goroutines; concurrent Enqueue calls share one store transaction.
type Client struct {
	db     *store.DB
	gc     *gearman.Client
	conf   config.Tasks
	log    *slog.Logger
	send   *sender
	ins    *inserter
	owned  []func() error    // what Close closes: the store and job server connections Open made
	stmts  map[int]*sql.Stmt // the inserter's prepared INSERTs, by rows
	closed sync.Once
}

// Option configures a Client.
type Option func(*Client)

// WithLogger sets where a Client logs what went wrong in the background (a
// job that could not be sent; the sweeper sends it later). Default: none.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// Open connects to the cluster's job servers and task store (conf's store,
// or the [fanout] store of fanout) and creates the tables if needed.
func Open(ctx context.Context, client config.Client, conf config.Tasks, fanout config.Fanout, opts ...Option) (*Client, error) {
	dsn, err := conf.StorePath(fanout)
	if err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	gc, err := DialJobServers(ctx, client)
	if err != nil {
		db.Close()
		return nil, err
	}
	c, err := NewClient(ctx, db, gc, conf, opts...)
	if err != nil {
		gc.Close()
		db.Close()
		return nil, err
	}
	c.owned = []func() error{gc.Close, db.Close}
	return c, nil
}

// DialJobServers returns a Gearman client for client's job servers, with
// its TLS settings.
func DialJobServers(ctx context.Context, client config.Client) (*gearman.Client, error) {
	tlsConf, err := client.TLSConfig()
	if err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	gc, err := gearman.NewClient(ctx, client.JobServers, gearman.WithTLS(tlsConf))
	if err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	return gc, nil
}

// NewClient returns a Client over an open store and Gearman client, which
// it does not close. Zero fields of conf take their defaults. gc may be
// nil for a client that only looks tasks up (or enqueues them for the
// workers' sweeper to send, redispatch_after later).
func NewClient(ctx context.Context, db *store.DB, gc *gearman.Client, conf config.Tasks, opts ...Option) (*Client, error) {
	conf = withDefaults(conf)
	if err := conf.Validate(); err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	if err := Migrate(ctx, db); err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	c := &Client{db: db, gc: gc, conf: conf, stmts: map[int]*sql.Stmt{}}
	for _, o := range opts {
		o(c)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.send = newSender(gc, conf.BatchSize, c.log)
	c.ins = newInserter(c)
	return c, nil
}

// withDefaults fills in conf's zero fields; Serve stays as given.
func withDefaults(conf config.Tasks) config.Tasks {
	d := config.DefaultTasks()
	orDefault(&conf.BatchSize, d.BatchSize)
	orDefault(&conf.MaxAttempts, d.MaxAttempts)
	orDefault(&conf.MaxItemBytes, d.MaxItemBytes)
	orDefault(&conf.Retention, d.Retention)
	orDefault(&conf.Lease, d.Lease)
	orDefault(&conf.PollInterval, d.PollInterval)
	orDefault(&conf.RedispatchAfter, d.RedispatchAfter)
	orDefault(&conf.MinBackoff, d.MinBackoff)
	orDefault(&conf.MaxBackoff, max(d.MaxBackoff, conf.MinBackoff))
	return conf
}

// orDefault sets *v to def if it is zero.
func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Close waits for the enqueues in flight and their jobs' sending, then
// closes what Open opened. Enqueue after Close returns ErrClosed.
func (c *Client) Close() error {
	var errs []error
	c.closed.Do(func() {
		c.ins.close()
		c.send.close()
		for _, st := range c.stmts {
			st.Close()
		}
		for _, f := range c.owned {
			errs = append(errs, f())
		}
	})
	return errors.Join(errs...)
}

// DB is the client's store.
func (c *Client) DB() *store.DB { return c.db }
