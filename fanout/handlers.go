package fanout

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
)

// The protocol functions (subscribe_fanout, unsubscribe_fanout, fanout)
// and our matchmaking queue, as job handlers.

// subscribe serves subscribe_fanout: gearhorn's {"topic","client_id"}.
func (w *Worker) subscribe(ctx context.Context, j *gearman.Job) ([]byte, error) {
	sub, err := parseSubscribe(FuncSubscribe, j.Data)
	if err != nil {
		return nil, err
	}
	if err := w.store.Subscribe(ctx, sub.Topic, sub.ClientID); err != nil {
		return nil, fmt.Errorf("%s: %w", FuncSubscribe, err)
	}
	w.log.Info("subscribed", "topic", sub.Topic, "client_id", sub.ClientID)
	w.changed(ctx)
	return nil, nil // gearhorn completes with no data
}

// unsubscribe serves unsubscribe_fanout.
func (w *Worker) unsubscribe(ctx context.Context, j *gearman.Job) ([]byte, error) {
	sub, err := parseSubscribe(FuncUnsubscribe, j.Data)
	if err != nil {
		return nil, err
	}
	if err := w.store.Unsubscribe(ctx, sub.Topic, sub.ClientID); err != nil {
		return nil, fmt.Errorf("%s: %w", FuncUnsubscribe, err)
	}
	w.log.Info("unsubscribed", "topic", sub.Topic, "client_id", sub.ClientID)
	w.changed(ctx)
	return nil, nil
}

// changed reloads our cache after a change to the store and tells the
// other fanout workers to reload theirs. The change is already committed,
// so a failure here is only logged: the periodic resync repairs it.
func (w *Worker) changed(ctx context.Context) {
	if err := w.cache.reload(ctx); err != nil {
		w.log.Warn("cannot reload the subscriber list", "err", err)
	}
	w.announce(ctx)
}

// reloadMessage is what a fanout worker sends to the matchmaking topic.
type reloadMessage struct {
	Op   string `json:"op"`   // "reload"
	From string `json:"from"` // the sender's id, so that it can ignore its own
}

// announce sends a background "reload" to every other fanout worker of the
// matchmaking topic. Background, so that a fanout worker that has died
// (until pruned) cannot hold up a subscription.
func (w *Worker) announce(ctx context.Context) error {
	var others []string
	for _, id := range w.cache.subscribers(MatchmakingTopic) {
		if id != w.id {
			others = append(others, id)
		}
	}
	if len(others) == 0 {
		return nil
	}
	msg := mustJSON(reloadMessage{Op: "reload", From: w.id})
	res := w.copyBackground(ctx, MatchmakingTopic, others, msg, "")
	if len(res.errs) > 0 {
		err := fmt.Errorf("fanout: announce a reload: %s", copyErrorText(res.errs))
		w.log.Warn("cannot tell the other fanout workers to reload", "err", err)
		return err
	}
	return nil
}

// matchmaking serves our "__matchmaking_<id>" queue: any message but our
// own makes us reload the subscriber list.
func (w *Worker) matchmaking(ctx context.Context, j *gearman.Job) ([]byte, error) {
	var m reloadMessage
	if json.Unmarshal(j.Data, &m) == nil && m.From == w.id {
		return []byte("ignored: own message"), nil
	}
	if err := w.cache.reload(ctx); err != nil {
		return nil, err
	}
	w.log.Debug("reloaded the subscriber list", "from", m.From)
	return []byte("reloaded"), nil
}

// fanout serves the fanout function: a copy of the payload to every
// subscriber of the topic, foreground or background.
func (w *Worker) fanout(ctx context.Context, j *gearman.Job) ([]byte, error) {
	r, err := parseFanout(j.Data)
	if err != nil {
		return nil, err
	}
	subs := w.cache.subscribers(r.Topic)
	var res copyResult
	if r.Background {
		res = w.copyBackground(ctx, r.Topic, subs, r.payloadBytes(), r.Unique)
	} else {
		timeout := w.cfg.CopyTimeout
		if t := time.Duration(r.Timeout * float64(time.Second)); r.Timeout > 0 && t < timeout {
			timeout = max(t, time.Millisecond)
		}
		res = w.copyForeground(ctx, r.Topic, subs, r.payloadBytes(), r.Unique, timeout)
	}
	w.log.Debug("fanout", "topic", r.Topic, "subscribers", len(subs), "delivered", res.delivered,
		"failed", len(res.errs), "background", r.Background)
	if r.Collect {
		c := Collected{Replies: map[string]json.RawMessage{}, Errors: map[string]string{}}
		for id, reply := range res.replies {
			c.add(id, reply)
		}
		for _, e := range res.errs {
			c.Errors[e.ClientID] = e.Err
		}
		return json.Marshal(c)
	}
	if len(res.errs) > 0 {
		// gearhorn's form: the list of [client_id, error] pairs.
		data, _ := json.Marshal(res.errs)
		return nil, &gearman.JobException{Data: data}
	}
	return []byte(strconv.Itoa(res.delivered)), nil
}

// mustJSON marshals a value that cannot fail to marshal.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
