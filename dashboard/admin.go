package dashboard

import (
	"context"
	"slices"
	"strings"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/fanout"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/wire"
)

type adminOption = gearman.AdminOption

// adminOptions are the options of cfg's admin connections (TLS).
func adminOptions(cfg config.Client) (func() []adminOption, error) {
	conf, err := cfg.TLSConfig()
	if err != nil {
		return nil, err
	}
	return func() []adminOption { return []adminOption{gearman.WithTLS(conf)} }, nil
}

// serverReport is one job server's answer: its functions and the glimpse
// workers connected to it.
type serverReport struct {
	addr    string
	funcs   []Function
	workers map[string]int // worker id: slots
	err     error
}

// askServer reads one job server's "status" and "workers" listings,
// leaving out the cluster's own queues.
func askServer(ctx context.Context, addr string, opts ...adminOption) serverReport {
	r := serverReport{addr: addr, workers: map[string]int{}}
	a, err := gearman.DialAdmin(ctx, addr, opts...)
	if err != nil {
		r.err = err
		return r
	}
	defer a.Close()
	st, err := a.Status(ctx)
	if err != nil {
		r.err = err
		return r
	}
	ws, err := a.Workers(ctx)
	if err != nil {
		r.err = err
		return r
	}
	slots := map[string]int{}
	for _, w := range ws {
		n := 1
		if id, s, ok := wire.ParseWorkerClientID(w.ClientID); ok {
			n, r.workers[id] = s, s
		}
		for _, f := range w.Functions {
			slots[f] += n
		}
	}
	for _, s := range st {
		if internalQueue(s.Name) {
			continue
		}
		name, _ := strings.CutPrefix(s.Name, wire.GearmanPrefix)
		r.funcs = append(r.funcs, Function{Server: addr, Name: name,
			// gearmand's count includes the running jobs.
			Queued: max(s.Queued-s.Running, 0), Running: s.Running, Workers: s.Workers, Slots: slots[s.Name]})
	}
	slices.SortFunc(r.funcs, func(a, b Function) int { return strings.Compare(a.Name, b.Name) })
	return r
}

// internalQueue says whether a Gearman function is the cluster's own
// plumbing (the fanout protocol, workers' command queues), as `status`
// without -a leaves them out.
func internalQueue(name string) bool {
	switch name {
	case fanout.FuncFanout, fanout.FuncSubscribe, fanout.FuncUnsubscribe:
		return true
	}
	return strings.HasPrefix(name, fanout.MatchmakingTopic) || strings.HasPrefix(name, wire.CommandTopic+"_")
}
