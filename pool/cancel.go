package pool

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// cancelWait bounds the cancel commands a map sends when it ends early, so
// that the map returns promptly even when a job server is slow to answer.
const cancelWait = 1500 * time.Millisecond

// cancelTTL is how long workers refuse the chunks of a cancelled map: one
// that was handed to a worker just before the map's connection closed
// still arrives, a moment later.
const cancelTTL = 30 * time.Second

// maxDirectCancels bounds the workers a map sends its cancel to one by
// one when it cannot tell which of them run its chunks; past it, the
// fanout worker copies the command to every worker.
const maxDirectCancels = 64

// cancelChunks tells workers to stop the running chunks of a map of
// function fn that ended early: a background cancel command straight to
// the command queue of each worker known to run one (their start notices
// named them). When a chunk was handed out but its notice has not arrived
// (unannounced), every worker serving fn gets it too: straight, if there
// are at most maxDirectCancels of them, else through the fanout worker if
// one runs. Best effort, bounded by cancelWait; it uses a connection that
// is not the map's, which is closed by then.
func (p *Pool) cancelChunks(mapID, fn string, workers []string, unannounced bool) {
	ctx, cancel := context.WithTimeout(context.Background(), cancelWait)
	defer cancel()
	cmd := NewCommand(CommandCancel, cancelTTL)
	cmd.Map = mapID
	payload, err := sealCommand(p.key, cmd)
	if err != nil {
		return
	}
	var errs []error
	fanout := false
	if unannounced {
		ids, _, err := p.workersOf(ctx, fn)
		errs = append(errs, err)
		if fanout = len(ids) > maxDirectCancels; !fanout {
			workers = union(workers, ids)
		}
	}
	c, err := p.spareClient(ctx)
	if err != nil {
		p.opts.logger.Debug("pool: cannot send cancel", "map", mapID, "err", err)
		return
	}
	for _, w := range workers {
		if _, err := c.SubmitBackground(ctx, wire.CommandTopic+"_"+w, payload); err != nil {
			errs = append(errs, err)
		}
	}
	if fanout {
		errs = append(errs, p.fanoutCommand(ctx, c, payload))
	}
	if err := errors.Join(errs...); err != nil {
		p.opts.logger.Debug("pool: cancel not delivered everywhere", "map", mapID, "err", err)
	}
	if ctx.Err() != nil {
		c.Close() // a request may still be on its way
		return
	}
	p.opts.logger.Debug("pool: cancel sent", "map", mapID, "workers", len(workers), "fanout", fanout)
	p.release(c)
}

// union is a with the elements of b that it lacks.
func union(a, b []string) []string {
	for _, s := range b {
		if !slices.Contains(a, s) {
			a = append(a, s)
		}
	}
	return a
}

// fanoutCommand queues a background broadcast of a command, if a fanout
// worker runs.
func (p *Pool) fanoutCommand(ctx context.Context, c *gearman.Client, payload []byte) error {
	if err := p.checkFanout(ctx); err != nil {
		if errors.Is(err, ErrNoFanout) {
			return nil
		}
		return err
	}
	req, err := json.Marshal(fanoutRequest{Topic: wire.CommandTopic, Payload: payload, Background: true})
	if err != nil {
		return err
	}
	if req, err = p.key.SealJSON(auth.PurposeFanout, req); err != nil {
		return err
	}
	_, err = c.SubmitBackground(ctx, fanoutFunction, req)
	return err
}
