package pool

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// The fanout worker's protocol (gearhorn's, plus "collect"), as far as a
// broadcast needs it. Package fanout is the other end; it is not imported
// so that programs using the pool do not link the fanout worker's stores.
const fanoutFunction = "fanout"

type fanoutRequest struct {
	Topic   string          `json:"topic"`
	Payload json.RawMessage `json:"payload"`
	Collect bool            `json:"collect"`
	// Background queues background copies (nobody waits for them).
	Background bool    `json:"background,omitempty"`
	Timeout    float64 `json:"timeout,omitempty"` // seconds a copy may take
}

type fanoutCollected struct {
	Replies map[string]json.RawMessage `json:"replies"`
	Errors  map[string]string          `json:"errors"`
}

// ErrNoFanout is returned by Broadcast and Ping when no fanout worker
// serves the cluster's job servers (start one with glimpse-cluster fanout).
var ErrNoFanout = errors.New("pool: no fanout worker serves the job servers")

// DefaultCommandTTL is how long a broadcast command stays valid when the
// caller's context has no deadline.
const DefaultCommandTTL = 10 * time.Second

// Broadcast sends cmd to every worker it targets, through the fanout
// worker (one Gearman job copied to each worker's command queue), and
// returns their replies sorted by worker id. Workers that could not be
// reached are in the replies too, with Error set. A command with no id or
// expiry gets them (the expiry from ctx's deadline, at most MaxCommandTTL,
// or DefaultCommandTTL). With a cluster key ([client] key_file) the
// command is sealed, and a reply that does not open with the key or
// answers another command is an error reply starting with
// UnauthenticatedReply, never an answer.
func (p *Pool) Broadcast(ctx context.Context, cmd Command) ([]Reply, error) {
	cmd = withIDAndExpiry(ctx, cmd)
	if err := cmd.Validate(); err != nil {
		return nil, err
	}
	if err := p.checkFanout(ctx); err != nil {
		return nil, err
	}
	req, err := collectRequest(ctx, p.key, cmd)
	if err != nil {
		return nil, err
	}
	c, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	data, err := c.Call(ctx, fanoutFunction, req)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("pool: broadcast %s: %w", cmd.Name, err)
	}
	p.release(c)
	return collectedReplies(p.key, cmd, data)
}

// withIDAndExpiry returns cmd with an id and an expiry, keeping those it
// has; the expiry comes from ctx's deadline, else DefaultCommandTTL.
func withIDAndExpiry(ctx context.Context, cmd Command) Command {
	if cmd.ID != "" && !cmd.Expires.IsZero() {
		return cmd
	}
	ttl := DefaultCommandTTL
	if d, ok := ctx.Deadline(); ok {
		ttl = min(time.Until(d), MaxCommandTTL) // workers refuse longer
	}
	fresh := NewCommand(cmd.Name, ttl, cmd.Targets...)
	if cmd.ID != "" {
		fresh.ID = cmd.ID
	}
	if !cmd.Expires.IsZero() {
		fresh.Expires = cmd.Expires
	}
	return fresh
}

// collectRequest is the fanout job that copies cmd to every worker's
// command queue and collects their replies; the command is sealed with
// key.
func collectRequest(ctx context.Context, key *auth.Key, cmd Command) ([]byte, error) {
	payload, err := sealCommand(key, cmd)
	if err != nil {
		return nil, err
	}
	// Leave the fanout worker time to answer with what it has before ctx
	// ends: a hung worker must not cost the replies of the others.
	var timeout float64
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d).Seconds()*0.8, 0.001)
	}
	req, err := json.Marshal(fanoutRequest{Topic: wire.CommandTopic, Payload: payload, Collect: true, Timeout: timeout})
	if err != nil {
		return nil, err
	}
	return key.SealJSON(auth.PurposeFanout, req)
}

// collectedReplies reads the fanout worker's answer to cmd: the replies of
// its targets and an error reply for each worker it could not reach,
// sorted by worker id. A reply that fails the key check is an error reply
// (UnauthenticatedReply), never an answer; a worker answers once.
func collectedReplies(key *auth.Key, cmd Command, data []byte) ([]Reply, error) {
	var got fanoutCollected
	if err := json.Unmarshal(data, &got); err != nil {
		return nil, fmt.Errorf("pool: broadcast %s: the fanout worker's answer: %w", cmd.Name, err)
	}
	answered := map[string]bool{}
	var replies []Reply
	for id, raw := range got.Replies {
		r, ignored, err := openReply(key, cmd, raw)
		switch {
		case err != nil:
			replies = append(replies, refusedReply(cmd, id, err))
		case !ignored && !answered[r.Worker]:
			answered[r.Worker] = true
			replies = append(replies, r)
		}
	}
	for id, msg := range got.Errors {
		replies = append(replies, Reply{Command: cmd.ID, Name: cmd.Name, Worker: id, Error: msg})
	}
	slices.SortFunc(replies, func(a, b Reply) int { return cmp.Compare(a.Worker, b.Worker) })
	return replies, nil
}

// refusedReply is the error reply for a reply, under id, that could not
// be read or did not pass the key check.
func refusedReply(cmd Command, id string, err error) Reply {
	msg := err.Error()
	if _, refused := errors.AsType[*auth.RefusedError](err); refused {
		msg = UnauthenticatedReply + ": " + msg
	}
	return Reply{Command: cmd.ID, Name: cmd.Name, Worker: id, Error: msg}
}

// Ping asks every worker for its stats. Workers that do not answer are
// left out; Broadcast says who they are.
func (p *Pool) Ping(ctx context.Context) ([]WorkerStats, error) {
	replies, err := p.Broadcast(ctx, Command{Name: CommandPing})
	if err != nil {
		return nil, err
	}
	var stats []WorkerStats
	for _, r := range replies {
		if r.Stats != nil {
			stats = append(stats, *r.Stats)
		}
	}
	return stats, nil
}

func (p *Pool) checkFanout(ctx context.Context) error {
	var errs []error
	for _, addr := range p.cfg.JobServers {
		var st []gearman.FunctionStatus
		err := p.ask(ctx, addr, func(a *gearman.Admin) (err error) {
			st, err = a.Status(ctx)
			return err
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, s := range st {
			if s.Name == fanoutFunction && s.Workers > 0 {
				return nil
			}
		}
	}
	if len(errs) == len(p.cfg.JobServers) {
		return fmt.Errorf("pool: cannot ask the job servers for a fanout worker: %w", errors.Join(errs...))
	}
	return ErrNoFanout
}
