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
func broadcastZMQ(ctx context.Context, cfg config.Client, cmd pool.Command) ([]pool.Reply, error) {
	if !cfg.HasBroker() {
		return nil, errors.New("the config has no broker URLs ([client] command_frontend_url and the others)")
	}
	data, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	// Subscribe to the replies before sending, so that none is missed.
	cp, err := openClientPeers(cfg, wire.TopicReply+cmd.ID)
	if err != nil {
		return nil, err
	}
	defer cp.Close()
	byWorker, err := cp.collect(ctx, cmd.ID, data)
	if err != nil {
		return nil, err
	}
	replies := make([]pool.Reply, 0, len(byWorker))
	for _, r := range byWorker {
		replies = append(replies, r)
	}
	slices.SortFunc(replies, func(a, b pool.Reply) int { return cmp.Compare(a.Worker, b.Worker) })
	return replies, nil
}

// collect sends the command once a worker's subscription has arrived, and
// again whenever another arrives: a publisher drops what it sends before a
// subscriber joins, workers join one by one when a client with no broker
// has just bound, and a worker obeys a command id once. It returns the
// replies once replyQuiet has passed since the last reply or send (and,
// with no broker, the settle time), or when ctx ends.
func (cp *clientPeers) collect(ctx context.Context, id string, data []byte) (map[string]pool.Reply, error) {
	byWorker := map[string]pool.Reply{}
	sent := 0 // command subscriptions seen at the last send
	var last time.Time
	for {
		if n := cp.pub.Subscriptions(wire.TopicCommand); n > sent {
			if err := cp.pub.Send(wire.TopicCommand, data); err != nil {
				return nil, err
			}
			sent, last = n, time.Now()
		}
		done := len(byWorker) > 0 && !time.Now().Before(last.Add(replyQuiet)) && !time.Now().Before(cp.settle)
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
			return nil, err
		}
		var r pool.Reply
		if len(parts) != 1 || json.Unmarshal(parts[0], &r) != nil || r.Command != id {
			continue
		}
		byWorker[r.Worker] = r
		last = time.Now()
	}
	if sent == 0 {
		return nil, fmt.Errorf("no worker listens on the command channel %s%s: %w", cp.url, cp.hint(), context.Cause(ctx))
	}
	return byWorker, nil
}
