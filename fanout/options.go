package fanout

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/ids"
)

// DefaultConcurrency is how many jobs a fanout worker serves at once. A
// foreground fanout mostly waits for its copies, so this is far above the
// CPU count.
const DefaultConcurrency = 64

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

// WithStore makes the worker use s instead of opening config.Fanout.Store,
// which is then neither opened nor checked. The worker does not close s.
func WithStore(s Store) Option { return func(o *options) { o.store = s } }

// withFunctions limits the protocol functions the worker registers, so a
// test can tell which of two workers serves a job.
func withFunctions(names ...string) Option { return func(o *options) { o.functions = names } }

// buildOptions applies opts over the defaults and checks them together
// with the configuration, so that NewWorker fails before it opens
// anything.
func buildOptions(client config.Client, cfg config.Fanout, opts []Option) (options, error) {
	o := options{logger: slog.New(slog.DiscardHandler), concurrency: DefaultConcurrency}
	for _, opt := range opts {
		opt(&o)
	}
	if err := client.Validate(); err != nil {
		return o, fmt.Errorf("fanout: %w", err)
	}
	if err := checkFanoutConfig(cfg, o.store != nil); err != nil {
		return o, fmt.Errorf("fanout: %w", err)
	}
	if o.concurrency < 1 {
		return o, fmt.Errorf("fanout: concurrency %d is not positive", o.concurrency)
	}
	if o.id == "" {
		o.id = defaultID()
	}
	if err := checkName(o.id); err != nil {
		return o, fmt.Errorf("fanout: worker id %q: %w", o.id, err)
	}
	return o, nil
}

// checkFanoutConfig validates cfg. A store given with WithStore replaces
// cfg.Store, so a problem with that key (typically: left empty) is not
// one: it is left out of the errors.
func checkFanoutConfig(cfg config.Fanout, storeGiven bool) error {
	err := cfg.Validate()
	if err == nil || !storeGiven {
		return err
	}
	all := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		all = joined.Unwrap()
	}
	var kept []error
	for _, e := range all {
		var ce *config.Error
		if errors.As(e, &ce) && ce.Section == "fanout" && ce.Key == "store" {
			continue
		}
		kept = append(kept, e)
	}
	if len(kept) == 1 {
		return kept[0] // as config does: a single problem is itself
	}
	return errors.Join(kept...)
}

func defaultID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return fmt.Sprintf("fanout-%s-%d-%s", host, os.Getpid(), ids.New(3))
}
