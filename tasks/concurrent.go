package tasks

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/glimpse-go/glimpse/config"
)

// concurrency holds the functions whose job's tasks may run at once:
// name -> most at once (absent: 1).
var concurrency sync.Map

// RunConcurrently lets a Runner run up to n tasks of one job of the
// registered function name at once, in the job's slot, instead of one
// after another. It is for functions that mostly wait on the network:
// package webhook sets it for its Deliver function, so that a job of
// batch_size webhook calls to a slow receiver takes about one call's
// time, not batch_size calls'. Queue limits still hold: each task of a
// limited queue waits for its own grant. n is 1 to 1024 (1: in turn, the
// default); call it before the worker starts, as package init does.
func RunConcurrently(name string, n int) {
	if !config.ValidFunctionName(name) || n < 1 || n > 1024 {
		panic(fmt.Sprintf("tasks.RunConcurrently(%q, %d): want a valid function name and 1 <= n <= 1024", name, n))
	}
	concurrency.Store(name, n)
}

// concurrencyOf is how many tasks of one job of fn run at once.
func concurrencyOf(fn string) int {
	if n, ok := concurrency.Load(fn); ok {
		return n.(int)
	}
	return 1
}

// forEach calls fn(0), ..., fn(count-1), up to n at once, in order. It
// starts none once ctx ended or a call returned false, and returns once
// the calls it started have; the result says whether every one returned
// true.
func forEach(ctx context.Context, n, count int, fn func(i int) bool) bool {
	if n <= 1 {
		for i := range count {
			if ctx.Err() != nil || !fn(i) {
				return false
			}
		}
		return true
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(n)
	for i := range count {
		if gctx.Err() != nil { // ctx ended, or a call returned false
			g.Wait()
			return false
		}
		g.Go(func() error {
			if !fn(i) {
				return errStopped
			}
			return nil
		})
	}
	return g.Wait() == nil
}

// errStopped ends forEach's group when a call returns false.
var errStopped = errors.New("tasks: a call of the group returned false")
