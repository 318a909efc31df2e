package fanout

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/auth"
)

// The protocol functions (subscribe_fanout, unsubscribe_fanout, fanout)
// and our matchmaking queue, as job handlers.

// subscribe serves subscribe_fanout: gearhorn's {"topic","client_id"}.
func (w *Worker) subscribe(ctx context.Context, j *gearman.Job) ([]byte, error) {
	data, err := w.openRequest(FuncSubscribe, j)
	if err != nil {
		return nil, err
	}
	sub, err := parseSubscribe(FuncSubscribe, data)
	if err != nil {
		return nil, err
	}
	// One subscribe at a time, so that two cannot both take the last
	// place. (Fanout workers sharing a store check each on its own: the
	// fanout's own check catches what gets past.)
	w.subMu.Lock()
	defer w.subMu.Unlock()
	if err := w.checkRoom(ctx, sub); err != nil {
		return nil, err
	}
	if err := w.store.Subscribe(ctx, sub.Topic, sub.ClientID); err != nil {
		return nil, fmt.Errorf("%s: %w", FuncSubscribe, err)
	}
	w.log.Info("subscribed", "topic", sub.Topic, "client_id", sub.ClientID)
	w.changed(ctx)
	return nil, nil // gearhorn completes with no data
}

// checkRoom refuses a new subscriber to a topic that has MaxSubscribers
// already; one subscribed already may subscribe again.
func (w *Worker) checkRoom(ctx context.Context, sub Subscription) error {
	ids, err := w.store.Subscribers(ctx, sub.Topic)
	if err != nil {
		return fmt.Errorf("%s: %w", FuncSubscribe, err)
	}
	if len(ids) < w.maxSubscribers || slices.Contains(ids, sub.ClientID) {
		return nil
	}
	err = &LimitError{Function: FuncSubscribe, Key: keyMaxSubscribers, Limit: w.maxSubscribers,
		Size: len(ids), Topic: sub.Topic, ClientID: sub.ClientID}
	w.log.Warn("subscription refused", "topic", sub.Topic, "client_id", sub.ClientID, "err", err)
	return err
}

// unsubscribe serves unsubscribe_fanout.
func (w *Worker) unsubscribe(ctx context.Context, j *gearman.Job) ([]byte, error) {
	data, err := w.openRequest(FuncUnsubscribe, j)
	if err != nil {
		return nil, err
	}
	sub, err := parseSubscribe(FuncUnsubscribe, data)
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
	data, err := w.openRequest(FuncFanout, j)
	if err != nil {
		return nil, err
	}
	r, err := parseFanout(data)
	if err != nil {
		return nil, err
	}
	payload := r.payloadBytes()
	subs := w.cache.subscribers(r.Topic)
	if err := w.checkLimits(r.Topic, len(payload), len(subs)); err != nil {
		return nil, err
	}
	var res copyResult
	if r.Background {
		res = w.copyBackground(ctx, r.Topic, subs, payload, r.Unique)
	} else {
		timeout := w.cfg.CopyTimeout
		if t := time.Duration(r.Timeout * float64(time.Second)); r.Timeout > 0 && t < timeout {
			timeout = max(t, time.Millisecond)
		}
		res = w.copyForeground(ctx, r.Topic, subs, payload, r.Unique, timeout)
	}
	w.copies.count(res)
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

// checkLimits refuses a fanout before any copy is made: gearmand holds
// every copy, so size times subscribers is what one fanout costs it. A
// topic over MaxSubscribers got past the subscribe check (the limit was
// lowered, or fanout workers sharing a store raced).
func (w *Worker) checkLimits(topic string, size, subscribers int) error {
	if size > w.maxPayload {
		return &LimitError{Function: FuncFanout, Key: keyMaxPayload, Limit: w.maxPayload, Size: size, Topic: topic}
	}
	if subscribers > w.maxSubscribers {
		return &LimitError{Function: FuncFanout, Key: keyMaxSubscribers, Limit: w.maxSubscribers, Size: subscribers, Topic: topic}
	}
	return nil
}

// mustJSON marshals a value that cannot fail to marshal.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// openRequest returns a request's JSON: as it came without a cluster key
// (gearhorn's protocol), else only if a key holder sealed it, so that an
// outsider can neither unsubscribe a worker nor have a forged command
// copied to every worker. A refusal is counted and logged, paced.
func (w *Worker) openRequest(function string, j *gearman.Job) ([]byte, error) {
	data, err := w.key.OpenJSON(auth.PurposeFanout, j.Data)
	if err == nil {
		return data, nil
	}
	if log, skipped, total := w.refused.Add(time.Now()); log {
		w.log.Warn("request refused: it failed the cluster key check", "function", function, "job", j.Handle,
			"err", err, "refused_total", total, "refused_unlogged", skipped)
	}
	return nil, fmt.Errorf("%s: %w", function, err)
}

// Refused is how many requests failed the cluster key check.
func (w *Worker) Refused() int64 { return w.refused.Total() }

// Subscribers returns the subscribers a fanout to topic is copied to now:
// the worker's cached list, which a subscribe updates before it returns.
func (w *Worker) Subscribers(topic string) []string {
	return slices.Clone(w.cache.subscribers(topic))
}
