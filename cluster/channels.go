package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// The channels' topics, and how long a reply waits for its asker.
const (
	topicCommand   = wire.TopicCommand
	topicLog       = wire.TopicLog
	topicHeartbeat = wire.TopicHeartbeat
	topicReply     = wire.TopicReply
	replyWait      = wire.ReplyWait
)

// outMsg is one message for the log channel.
type outMsg struct {
	topic     string
	data      []byte
	waitTopic bool // wait (up to replyWait) for a subscriber of topic
}

// channels connects a worker to the broker, or with no broker
// (config.Client.Direct) to the client, which binds the same URLs: it takes
// commands from the command channel and publishes its log records,
// heartbeats and command replies on the log channel. A worker never binds:
// its sockets connect, and reconnect by themselves whenever a broker or a
// client goes away and another binds. Each ZeroMQ socket belongs to one
// goroutine.
type channels struct {
	w   *Worker
	cfg config.Client
	out chan outMsg // to the publisher goroutine; full means drop

	wg sync.WaitGroup
}

func newChannels(w *Worker, cfg config.Client) *channels {
	return &channels{w: w, cfg: cfg, out: make(chan outMsg, 4096)}
}

// run serves both channels until ctx ends.
func (ch *channels) run(ctx context.Context, heartbeat time.Duration) {
	listened := make(chan struct{})
	ch.wg.Add(2)
	go func() {
		defer ch.wg.Done()
		ch.publish(ctx, heartbeat, listened)
	}()
	go func() {
		defer ch.wg.Done()
		defer close(listened)
		ch.listen(ctx)
	}()
	ch.wg.Wait()
}

// peers makes the worker's ends of the channels: CURVE clients with the
// cluster key, limited to [client] zmq_max_message_size.
func (ch *channels) peers() broker.Peers {
	return broker.Peers{Key: ch.w.key, MaxMessageSize: ch.cfg.ZMQMaxMessageSize, Log: ch.w.log}
}

// sealLog seals a log record or heartbeat for topic with the cluster key
// (auth.PurposeLog, bound to the topic, so that a record cannot be passed
// off as another worker's); without a key it is data as is.
func (ch *channels) sealLog(topic string, data []byte) []byte {
	return ch.w.key.Seal(auth.PurposeLog, data, []byte(topic))
}

// send queues a message for the log channel without blocking: a worker
// must never stall on its logs.
func (ch *channels) send(m outMsg) {
	select {
	case ch.out <- m:
	default:
	}
}

// publish serves the log channel until ctx ends; then, once listen has
// returned (it may be queueing the reply to the quit that stopped the
// worker), it flushes what is queued.
func (ch *channels) publish(ctx context.Context, heartbeat time.Duration, listened <-chan struct{}) {
	pub, err := ch.peers().NewPublisher(ch.cfg.LogFrontendURL)
	if err != nil {
		ch.w.log.Error("log channel: cannot publish; logs and replies stay local", "err", err)
		return
	}
	defer pub.Close()
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	beat := func() {
		st := ch.w.Stats()
		if data, err := json.Marshal(st); err == nil {
			pub.Send(topicHeartbeat+ch.w.id, ch.sealLog(topicHeartbeat+ch.w.id, data))
		}
	}
	for {
		select {
		case <-ctx.Done():
			<-listened
			ch.flush(pub)
			return
		case <-tick.C:
			beat()
		case m := <-ch.out:
			// Not cut short by ctx: the reply to a quit is sent while
			// the worker stops.
			wctx, cancel := context.WithTimeout(context.Background(), replyWait)
			deliver(wctx, pub, m)
			cancel()
		}
	}
}

// flush sends what was queued when the worker stopped, the reply to the
// quit that stopped it among it: with no broker the client may only now be
// reconnected to. It gives up after replyWait in all.
func (ch *channels) flush(pub *broker.Publisher) {
	ctx, cancel := context.WithTimeout(context.Background(), replyWait)
	defer cancel()
	for ctx.Err() == nil {
		select {
		case m := <-ch.out:
			deliver(ctx, pub, m)
		default:
			return
		}
	}
}

// deliver publishes m, first waiting (until ctx ends) for a subscriber
// if m asks for one.
func deliver(ctx context.Context, pub *broker.Publisher, m outMsg) {
	if m.waitTopic {
		pub.WaitSubscribed(ctx, m.topic)
	}
	pub.Send(m.topic, m.data)
}

func (ch *channels) listen(ctx context.Context) {
	sub, err := ch.peers().NewSubscriber(ch.cfg.CommandBackendURL, topicCommand)
	if err != nil {
		ch.w.log.Error("command channel: cannot subscribe; commands come through the fanout worker only", "err", err)
		return
	}
	defer sub.Close()
	for {
		_, parts, err := sub.Recv(ctx)
		if err != nil {
			if ctx.Err() == nil {
				ch.w.log.Error("command channel: receive failed", "err", err)
			}
			return
		}
		if len(parts) != 1 {
			ch.w.control.gate.refused("command channel", ch.cfg.CommandBackendURL, fmt.Errorf("malformed message: %d parts", len(parts)))
			continue
		}
		ch.command(parts[0])
	}
}

// command obeys a command from the command channel and queues its sealed
// reply. The source a refusal names is the channel's URL: every message
// comes through the broker (or, with no broker, the client) there.
func (ch *channels) command(data []byte) {
	cmd, err := ch.w.control.gate.accept(data, "command channel", ch.cfg.CommandBackendURL)
	if err != nil {
		return // refused (counted and logged), or had by the fanout path
	}
	reply, ok := ch.w.control.obey(cmd)
	if !ok {
		return
	}
	if data, err := ch.w.control.gate.sealReply(reply); err == nil {
		ch.send(outMsg{topic: topicReply + cmd.ID, data: data, waitTopic: true})
	}
}

// logWriter is where the worker's JSON log handler writes: each Write is
// one record (slog handlers write a record in one call), published on the
// log channel.
type logWriter struct{ ch *channels }

func (lw logWriter) Write(p []byte) (int, error) {
	topic := topicLog + lw.ch.w.id
	lw.ch.send(outMsg{topic: topic, data: lw.ch.sealLog(topic, bytes.TrimSpace(bytes.Clone(p)))})
	return len(p), nil
}

// teeHandler sends each record to several handlers.
type teeHandler []slog.Handler

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range t {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range t {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(teeHandler, len(t))
	for i, h := range t {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (t teeHandler) WithGroup(name string) slog.Handler {
	out := make(teeHandler, len(t))
	for i, h := range t {
		out[i] = h.WithGroup(name)
	}
	return out
}
