package webhook

import (
	"context"
	"sync/atomic"

	"github.com/glimpse-go/glimpse/pool"
	"github.com/glimpse-go/glimpse/tasks"
)

// Name is the registered name of Deliver; its Gearman function is
// "glimpse.glimpse.webhook".
const Name = "glimpse.webhook"

// Deliver is the built-in registered function that sends one webhook
// call with this process's Client (see Configure): a webhook task is a
// task of Deliver, and a program may also call it like any registered
// function (pool.Map, pool.Call).
var Deliver = pool.Register(Name, func(ctx context.Context, r Request) (Response, error) {
	return Default().Deliver(ctx, r)
})

// ConcurrentCalls is how many webhook tasks of one task job a worker
// calls at once (tasks.RunConcurrently): a call mostly waits for its
// receiver, so the job's slot need not wait for each in turn.
const ConcurrentCalls = 64

func init() { tasks.RunConcurrently(Name, ConcurrentCalls) }

var current atomic.Pointer[Client]

// Default is the Client that Deliver uses in this process: the last one
// Configure made, else one with a zero Config (unsigned calls).
func Default() *Client {
	if c := current.Load(); c != nil {
		return c
	}
	current.CompareAndSwap(nil, NewClient(Config{}))
	return current.Load()
}

// Configure gives Deliver a new Client made with cfg (a worker calls it
// at start, with its config's secret and timeout). Calls already running
// finish with the old one, whose idle connections are then closed.
func Configure(cfg Config) {
	if old := current.Swap(NewClient(cfg)); old != nil {
		old.CloseIdleConnections()
	}
}
