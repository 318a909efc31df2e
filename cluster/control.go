package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// StopRequest is a broadcast command's request that the worker process
// stop: drain, then exit, or start again.
type StopRequest struct {
	Command string // the command's id
	Restart bool
}

// control is how broadcast commands reach a worker. Commands arrive on a
// Gearman connection of their own (the worker's fanout queue) and later on
// the broker's command channel; either way they are answered here, on
// goroutines of their own, so busy slots never delay a ping or a quit.
type control struct {
	w  *Worker
	gw *gearman.Worker // serves wire.CommandTopic + "_" + worker id

	// renewal is how often run subscribes to the fanout topic again;
	// stopRenew ends that, and renewDone is closed once it has ended.
	renewal   time.Duration
	renewCtx  context.Context
	stopRenew context.CancelFunc
	renewDone chan struct{}

	// gate checks every command, by either path, and seals the replies.
	gate *commandGate

	mu   sync.Mutex
	stop chan StopRequest // buffered(1)
	// stopping (guarded by mu) is set by the first quit or restart taken:
	// later ones are answered "already stopping", not acknowledged.
	stopping bool
	// refuseStop, when set (before Run), is why quit and restart are
	// refused: nobody would act on them (see Worker.refuseStops).
	refuseStop string
}

func newControl(w *Worker, renewal time.Duration) (*control, error) {
	c := &control{w: w, gate: newCommandGate(w.key, w.log), stop: make(chan StopRequest, 1),
		renewal: renewal, renewDone: make(chan struct{})}
	c.renewCtx, c.stopRenew = context.WithCancel(context.Background())
	gw, err := gearman.NewWorker(w.servers, gearman.WithTLS(w.tls),
		gearman.WithConcurrency(2),
		gearman.WithClientID("glimpse-control/"+w.id),
		gearman.WithLogger(w.log))
	if err != nil {
		return nil, err
	}
	if err := gw.Register(c.queue(), c.serveJob); err != nil {
		return nil, err
	}
	c.gw = gw
	return c, nil
}

// queue is the worker's fanout queue: gearhorn's "<topic>_<client_id>".
func (c *control) queue() string { return wire.CommandTopic + "_" + c.w.id }

func (c *control) serveJob(_ context.Context, job *gearman.Job) ([]byte, error) {
	cmd, err := c.gate.accept(job.Data, "fanout queue "+c.queue(), "job "+job.Handle)
	switch {
	case errors.Is(err, errDuplicate) && c.askedAgain(cmd):
		// A restarted fanout worker runs an interrupted broadcast again:
		// a ping or stats is harmless to answer twice, and its client
		// waits for this answer, not the first.
		return c.gate.sealReply(c.statsReply(cmd))
	case errors.Is(err, errDuplicate):
		return c.ignored(cmd)
	case err != nil:
		return nil, err
	}
	reply, ok := c.obey(cmd)
	if !ok {
		return c.ignored(cmd)
	}
	return c.gate.sealReply(reply)
}

// ignored is the reply to a command that is not for us or was seen: one
// that says so, so that a foreground fanout still counts the copy as
// delivered.
func (c *control) ignored(cmd pool.Command) ([]byte, error) {
	return c.gate.sealReply(map[string]any{"command": cmd.ID, "worker": c.w.id, "ignored": true})
}

// obey carries out a command that the gate admitted; false if it is not
// meant for this worker.
func (c *control) obey(cmd pool.Command) (pool.Reply, bool) {
	if !cmd.Matches(c.w.id, c.w.host) {
		return pool.Reply{}, false
	}
	reply := pool.Reply{Command: cmd.ID, Name: cmd.Name, Worker: c.w.id}
	switch cmd.Name {
	case pool.CommandPing, pool.CommandStats:
		reply = c.statsReply(cmd)
	case pool.CommandCancel:
		n := c.w.chunks.cancelMap(cmd.Map, cmd.Expires)
		c.w.log.Debug("command: cancel", "map", cmd.Map, "chunks", n, "id", cmd.ID)
	case pool.CommandQuit, pool.CommandRestart:
		reply.Error = c.requestStop(cmd)
	}
	return reply, true
}

// askedAgain reports whether cmd, which the gate let through before, is a
// ping or stats for this worker that is still valid.
func (c *control) askedAgain(cmd pool.Command) bool {
	if cmd.Name != pool.CommandPing && cmd.Name != pool.CommandStats {
		return false
	}
	return !cmd.Expired(time.Now()) && cmd.Matches(c.w.id, c.w.host)
}

func (c *control) statsReply(cmd pool.Command) pool.Reply {
	st := c.w.Stats()
	return pool.Reply{Command: cmd.ID, Name: cmd.Name, Worker: c.w.id, Stats: &st}
}

// run serves the command queue and keeps it subscribed to the fanout
// topic until ctx ends.
func (c *control) run(ctx context.Context) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.renewCtx, cancel)()
	go func() {
		defer close(c.renewDone)
		c.keepSubscribed(sctx)
	}()
	c.gw.Run()
	<-c.renewDone
}

// stopRenewing ends the subscribing and waits until it has ended, so that
// no subscribe reaches the job server after this returns. Call it once,
// and only after run began.
func (c *control) stopRenewing() {
	c.stopRenew()
	<-c.renewDone
}

// keepSubscribed subscribes, then subscribes again every renewal period
// until ctx ends: the fanout keeps one row however often we subscribe,
// and an unsubscribe_fanout sent by anyone else is undone at the next
// renewal. The renewal is blind: the fanout has no cheap way to ask
// whether we are still subscribed.
func (c *control) keepSubscribed(ctx context.Context) {
	if !c.subscribe(ctx) {
		return
	}
	tick := time.NewTicker(c.renewal)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rctx, cancel := context.WithTimeout(ctx, min(max(c.renewal, time.Second), gearman.DefaultRequestTimeout))
		if err := c.submit(rctx, "subscribe_fanout", c.subscription()); err != nil && ctx.Err() == nil {
			c.w.log.Debug("command channel: renewing the subscription failed; trying again later", "err", err)
		}
		cancel()
	}
}

// subscribe asks the fanout worker, in a background job, to copy commands
// to this worker's queue, retrying until it is submitted; false if ctx
// ended first. Background: the job waits in gearmand for a fanout worker
// that is not running yet, and never holds up the worker.
func (c *control) subscribe(ctx context.Context) bool {
	for attempt := 0; ; attempt++ {
		err := c.submit(ctx, "subscribe_fanout", c.subscription())
		if err == nil {
			return true
		}
		c.w.log.Debug("command channel: subscribe failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(min(time.Duration(attempt+1)*100*time.Millisecond, 5*time.Second)):
		}
	}
}

// subscription is the payload of subscribe_fanout and unsubscribe_fanout.
// subscription is the worker's subscribe_fanout and unsubscribe_fanout
// request, sealed with the cluster key if there is one: a keyed fanout
// worker takes no other.
func (c *control) subscription() []byte {
	msg, _ := json.Marshal(map[string]string{"topic": wire.CommandTopic, "client_id": c.w.id})
	sealed, _ := c.w.key.SealJSON(auth.PurposeFanout, msg)
	return sealed
}

// unsubscribe removes the worker from the fanout topic, best effort.
func (c *control) unsubscribe(ctx context.Context) {
	if err := c.submit(ctx, "unsubscribe_fanout", c.subscription()); err != nil {
		c.w.log.Warn("command channel: unsubscribe failed; the fanout worker prunes us later", "err", err)
	}
}

func (c *control) submit(ctx context.Context, function string, msg []byte) error {
	cl, err := gearman.NewClient(ctx, c.w.servers, gearman.WithTLS(c.w.tls), gearman.WithLogger(c.w.log))
	if err != nil {
		return err
	}
	defer cl.Close()
	// One unique id per worker and function: while the fanout worker is
	// down, our renewals wait in gearmand as one job, not one per period.
	if _, err := cl.SubmitBackground(ctx, function, msg, gearman.WithUnique(c.unique(function))); err != nil {
		return fmt.Errorf("%s: %w", function, err)
	}
	return nil
}

// unique is the unique id of this worker's function job: a hash, as
// gearmand cuts ids at 63 bytes and a host name may be longer.
func (c *control) unique(function string) string {
	sum := sha256.Sum256([]byte(function + "\x00" + c.queue()))
	return "glimpse-" + hex.EncodeToString(sum[:16])
}

// errMapCancelled is the cause of a chunk's cancelled context after a
// cancel command for its map, and the error of a chunk refused for it.
var errMapCancelled = errors.New("cluster: the chunk's map was cancelled")

// chunkRegistry knows the running chunks by map id, so that a cancel
// command stops a map's chunks, and the maps cancelled lately, so that a
// chunk of one that arrives a moment after the command is refused.
type chunkRegistry struct {
	mu        sync.Mutex
	running   map[string]map[*context.CancelCauseFunc]struct{}
	cancelled map[string]time.Time // map id -> until when
}

func newChunkRegistry() *chunkRegistry {
	return &chunkRegistry{running: map[string]map[*context.CancelCauseFunc]struct{}{}, cancelled: map[string]time.Time{}}
}

// start registers a chunk of map mapID ("" for a job that is no map's
// chunk) and returns its context and the function that cancels it with a
// cause and unregisters it (again and again, harmlessly); errMapCancelled
// if the map was cancelled. The chunk's time limit cancels the same
// context: one context per chunk.
func (r *chunkRegistry) start(ctx context.Context, mapID string) (context.Context, context.CancelCauseFunc, error) {
	if mapID == "" {
		ctx, cancel := context.WithCancelCause(ctx)
		return ctx, cancel, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if until, ok := r.cancelled[mapID]; ok && time.Now().Before(until) {
		return nil, nil, errMapCancelled
	}
	ctx, cancel := context.WithCancelCause(ctx)
	key := &cancel
	if r.running[mapID] == nil {
		r.running[mapID] = map[*context.CancelCauseFunc]struct{}{}
	}
	r.running[mapID][key] = struct{}{}
	return ctx, func(cause error) {
		r.mu.Lock()
		delete(r.running[mapID], key)
		if len(r.running[mapID]) == 0 {
			delete(r.running, mapID)
		}
		r.mu.Unlock()
		cancel(cause)
	}, nil
}

// cancelMap cancels the running chunks of map mapID and refuses its
// chunks until until. It returns how many chunks it cancelled.
func (r *chunkRegistry) cancelMap(mapID string, until time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for id, t := range r.cancelled {
		if !now.Before(t) {
			delete(r.cancelled, id)
		}
	}
	r.cancelled[mapID] = until
	for cancel := range r.running[mapID] {
		(*cancel)(errMapCancelled)
	}
	return len(r.running[mapID])
}

// parseCommand decodes and validates a command that came on a channel.
func parseCommand(data []byte) (pool.Command, error) {
	var c pool.Command
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("pool: malformed command: %w", err)
	}
	return c, c.Validate()
}
