package dashboard

import (
	"context"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/jobstatus"
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

// askServer reads one job server's functions and glimpse workers,
// leaving out the cluster's own queues, as status does without -a.
func askServer(ctx context.Context, addr string, opts ...adminOption) serverReport {
	st := jobstatus.Ask(ctx, addr, opts...)
	r := serverReport{addr: addr, workers: st.Workers, err: st.Err}
	for _, f := range st.Functions {
		if !f.Internal {
			r.funcs = append(r.funcs, Function{Server: addr, Name: f.Name,
				Queued: f.Queued, Running: f.Running, Workers: f.Workers, Slots: f.Slots})
		}
	}
	return r
}
