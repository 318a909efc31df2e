package cluster

import (
	"log/slog"

	"github.com/glimpse-go/glimpse/internal/wire"
)

// WorkerOption configures a Worker.
type WorkerOption func(*workerOptions)

type workerOptions struct {
	logger    *slog.Logger
	functions []wire.Function // nil: wire.Functions()
}

// WithLogger sets the worker's structured log. The default writes text
// lines to stderr at config.Worker.LogLevel.
func WithLogger(l *slog.Logger) WorkerOption {
	return func(o *workerOptions) { o.logger = l }
}

// WithFunctions makes the worker choose the functions it serves from fs
// instead of the registry (wire.Functions): for functions that are not
// registered, such as a test's, or a program that serves a subset
// without a config file.
func WithFunctions(fs ...wire.Function) WorkerOption {
	return func(o *workerOptions) { o.functions = fs }
}
