package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// replyQuiet ends a broadcast over the command channel early: once this
// long has passed without a new reply after the last one, every worker that
// is going to answer has (the channel has no list of workers to count).
const replyQuiet = 250 * time.Millisecond

// joinPoll is how often a broadcast over the command channel looks for
// workers that joined since it sent the command.
const joinPoll = 50 * time.Millisecond

// broadcastZMQ sends cmd on the command channel and collects the replies
// that come back on the log channel: through the broker, or with no broker
// (config.Client.Direct) on channels this client binds. It works while
// gearmand is down, but it cannot know which workers missed the command.
// With a cluster key the command goes sealed, and a reply that does not
// open with the key, or answers another command, is refused and counted,
// not taken for a worker's answer (its worker id is not to be trusted).
func broadcastZMQ(ctx context.Context, cfg config.Client, cmd pool.Command) (broadcastResult, error) {
	if !cfg.HasBroker() {
		return broadcastResult{}, errors.New("the config has no broker URLs ([client] command_frontend_url and the others)")
	}
	key, err := auth.LoadKeyFile(cfg.KeyFile)
	if err != nil {
		return broadcastResult{}, err
	}
	data, err := json.Marshal(cmd)
	if err != nil {
		return broadcastResult{}, err
	}
	if data, err = key.SealJSON(auth.PurposeCommand, data); err != nil {
		return broadcastResult{}, err
	}
	// Subscribe to the replies before sending, so that none is missed.
	cp, err := openClientPeers(cfg, wire.TopicReply+cmd.ID)
	if err != nil {
		return broadcastResult{}, err
	}
	defer cp.Close()
	res := replyCollector{key: key, cmd: cmd, byWorker: map[string]pool.Reply{}}
	if err := cp.collect(ctx, data, &res); err != nil {
		return broadcastResult{}, err
	}
	out := broadcastResult{refused: res.refused, lastRefusal: res.lastRefusal}
	for _, r := range res.byWorker {
		out.replies = append(out.replies, r)
	}
	slices.SortFunc(out.replies, func(a, b pool.Reply) int { return cmp.Compare(a.Worker, b.Worker) })
	return out, nil
}

// replyCollector keeps the replies to cmd that pass the key check.
type replyCollector struct {
	key         *auth.Key
	cmd         pool.Command
	byWorker    map[string]pool.Reply
	refused     int
	lastRefusal error
}

// add takes one message from the reply topic; true if it was a worker's
// answer.
func (rc *replyCollector) add(parts [][]byte) bool {
	if len(parts) != 1 {
		return false
	}
	body, err := rc.key.OpenJSON(auth.PurposeReply, parts[0])
	if err != nil {
		rc.refused, rc.lastRefusal = rc.refused+1, err
		return false
	}
	var r pool.Reply
	if json.Unmarshal(body, &r) != nil || r.Worker == "" {
		return false
	}
	if r.Command != rc.cmd.ID {
		if rc.key != nil { // sealed, but for another command: a replay
			rc.refused, rc.lastRefusal = rc.refused+1, fmt.Errorf("a reply of %s to command %s, not %s", r.Worker, r.Command, rc.cmd.ID)
		}
		return false
	}
	rc.byWorker[r.Worker] = r
	return true
}

// collect sends the command once a worker's subscription has arrived, and
// again whenever another arrives: a publisher drops what it sends before a
// subscriber joins, workers join one by one when a client with no broker
// has just bound, and a worker obeys a command id once. It stops once
// replyQuiet has passed since the last reply or send (and, with no broker,
// the settle time), or when ctx ends.
func (cp *clientPeers) collect(ctx context.Context, data []byte, rc *replyCollector) error {
	sent := 0 // command subscriptions seen at the last send
	var last time.Time
	for {
		if n := cp.pub.Subscriptions(wire.TopicCommand); n > sent {
			if err := cp.pub.Send(wire.TopicCommand, data); err != nil {
				return err
			}
			sent, last = n, time.Now()
		}
		done := len(rc.byWorker) > 0 && !time.Now().Before(last.Add(replyQuiet)) && !time.Now().Before(cp.settle)
		if done || ctx.Err() != nil {
			break
		}
		rctx, cancel := context.WithTimeout(ctx, joinPoll)
		_, parts, err := cp.sub.Recv(rctx)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				continue
			}
			return err
		}
		if rc.add(parts) {
			last = time.Now()
		}
	}
	if sent == 0 {
		return fmt.Errorf("no worker listens on the command channel %s%s: %w", cp.url, cp.hint(), context.Cause(ctx))
	}
	return nil
}
