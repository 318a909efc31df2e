// Package jobstatus reads what a job server knows of the cluster: its
// functions (queued and running jobs, workers, the glimpse slots behind
// them) and the glimpse workers connected to it, from the admin protocol's
// "status" and "workers" listings. glimpse-cluster status, top and the
// dashboard show it.
package jobstatus

import (
	"context"
	"slices"
	"strings"

	"github.com/glimpse-go/glimpse/fanout"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// Server is one job server's answer.
type Server struct {
	Addr      string
	Functions []Function     // sorted by Name
	Workers   map[string]int // glimpse worker id: its slots
	Err       error          // the server did not answer; nothing else is set
}

// Function is one Gearman function of a job server.
type Function struct {
	// Name is the function's name without wire.GearmanPrefix: a
	// registered function's name, or the Gearman name of any other.
	Name string
	// Queued counts jobs waiting for a worker, Running those a worker
	// holds (gearmand's own count holds both).
	Queued, Running int
	// Workers counts the connections that can do it, Slots the glimpse
	// slots behind them (a connection that is not a glimpse worker counts
	// one).
	Workers, Slots int
	// Internal: the cluster's own plumbing, not work (see Internal).
	Internal bool
}

// Ask reads the job server at addr, within ctx.
func Ask(ctx context.Context, addr string, opts ...gearman.AdminOption) Server {
	r := Server{Addr: addr, Workers: map[string]int{}}
	a, err := gearman.DialAdmin(ctx, addr, opts...)
	if err != nil {
		return Server{Addr: addr, Err: err}
	}
	defer a.Close()
	st, err := a.Status(ctx)
	if err != nil {
		return Server{Addr: addr, Err: err}
	}
	ws, err := a.Workers(ctx)
	if err != nil {
		return Server{Addr: addr, Err: err}
	}
	slots := map[string]int{}
	for _, w := range ws {
		n := 1
		if id, s, ok := wire.ParseWorkerClientID(w.ClientID); ok {
			n, r.Workers[id] = s, s
		}
		for _, f := range w.Functions {
			slots[f] += n
		}
	}
	for _, s := range st {
		name, _ := strings.CutPrefix(s.Name, wire.GearmanPrefix)
		r.Functions = append(r.Functions, Function{Name: name,
			Queued: max(s.Queued-s.Running, 0), Running: s.Running,
			Workers: s.Workers, Slots: slots[s.Name], Internal: Internal(s.Name)})
	}
	slices.SortFunc(r.Functions, func(a, b Function) int { return strings.Compare(a.Name, b.Name) })
	return r
}

// Internal says whether a Gearman function is the cluster's own plumbing
// rather than work: the fanout protocol (gearhorn's functions, and
// __matchmaking between fanout workers), the workers' command queues, and
// the per-worker names that a map's shared value is sent to.
func Internal(name string) bool {
	switch name {
	case fanout.FuncFanout, fanout.FuncSubscribe, fanout.FuncUnsubscribe:
		return true
	}
	return strings.HasPrefix(name, fanout.MatchmakingTopic) || strings.HasPrefix(name, wire.CommandTopic+"_") ||
		wire.IsSharedAlias(name)
}
