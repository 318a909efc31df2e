package pool

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// Naming a rogue worker. gearmand does not say which connection held a
// job, so when an answer fails the key check the pool asks that job
// server (admin "workers") who serves the function, and names in a
// warning every connection that is not a worker known to hold the key:
// the rogue is among them, by its client id, address and descriptor.

// rogueReportEvery bounds the admin questions and warnings about answers
// that failed the key check: one per period per pool, whatever a rogue
// sends.
const rogueReportEvery = time.Second

// maxSuspects bounds the connections one warning names.
const maxSuspects = 16

// reportForged counts an answer that failed the key check and, at most
// once per rogueReportEvery, logs a warning naming the suspects.
func (p *Pool) reportForged(ctx context.Context, fe *ForgedResultError) {
	total := p.forgedResults.Add(1)
	if log, _, _ := p.rogueReport.Add(time.Now()); !log {
		return
	}
	attrs := []any{"function", fe.Func, "chunk", fe.Chunk, "job_server", fe.Server, "job", fe.Handle,
		"err", fe.Reason, "refused_answers", total, "refused_notices", p.forgedNotices.Load()}
	suspects, err := p.suspects(ctx, fe.Server, wire.GearmanPrefix+fe.Func)
	if err != nil {
		attrs = append(attrs, "suspects_unknown", err)
	} else {
		attrs = append(attrs, "suspects", strings.Join(suspects, "; "))
	}
	p.opts.logger.Warn("pool: a chunk's answer failed the cluster key check, so a worker without the key "+
		"(a rogue, or one without key_file) took it; the chunk is submitted again. Suspects: the connections "+
		"serving the function that are not workers known to hold the key", attrs...)
}

// suspects lists the connections to server that serve the Gearman
// function gname and are not glimpse workers known to hold the key.
func (p *Pool) suspects(ctx context.Context, server, gname string) ([]string, error) {
	var workers []gearman.WorkerInfo
	err := p.ask(ctx, server, func(a *gearman.Admin) (err error) {
		workers, err = a.Workers(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, w := range workers {
		if !contains(w.Functions, gname) {
			continue
		}
		id, _, glimpse := wire.ParseWorkerClientID(w.ClientID)
		if glimpse && p.known.has(id) {
			continue
		}
		if len(out) == maxSuspects {
			out = append(out, "...")
			break
		}
		s := fmt.Sprintf("client_id=%q ip=%s fd=%d", w.ClientID, w.Addr, w.FD)
		if glimpse {
			s += " (a glimpse worker's id, not yet seen with the key)"
		}
		out = append(out, s)
	}
	return out, nil
}
