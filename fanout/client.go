package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/glimpse-go/glimpse/gearman"
)

// Client-side helpers: the protocol is plain JSON over Gearman, so any
// client works (the C gearman command included); these save Go callers
// the encoding.

// Subscribe subscribes clientID to topic through a fanout worker. The
// subscriber should serve its queue ("<topic>_<clientID>") first: a
// foreground fanout fails at once for a queue nobody serves.
func Subscribe(ctx context.Context, c *gearman.Client, topic, clientID string) error {
	_, err := c.Call(ctx, FuncSubscribe, mustJSON(SubscribeRequest{Topic: topic, ClientID: clientID}))
	return err
}

// Unsubscribe removes clientID from topic through a fanout worker.
func Unsubscribe(ctx context.Context, c *gearman.Client, topic, clientID string) error {
	_, err := c.Call(ctx, FuncUnsubscribe, mustJSON(SubscribeRequest{Topic: topic, ClientID: clientID}))
	return err
}

// CopiesError is the error of a foreground fanout whose copies did not all
// succeed.
type CopiesError struct {
	Errs []CopyError
}

func (e *CopiesError) Error() string {
	parts := make([]string, len(e.Errs))
	for i, ce := range e.Errs {
		parts[i] = ce.ClientID + ": " + ce.Err
	}
	return fmt.Sprintf("fanout: %d copies failed: %s", len(e.Errs), strings.Join(parts, "; "))
}

// Send runs a fanout (r.Collect must be false) and returns the number of
// copies delivered (foreground) or queued (background). When some copies
// failed the error is a *CopiesError.
func Send(ctx context.Context, c *gearman.Client, r Request) (int, error) {
	if r.Collect {
		return 0, errors.New("fanout: Send with Collect set; use Collect")
	}
	res, err := c.Call(ctx, FuncFanout, mustJSON(r))
	if err != nil {
		var ex *gearman.JobException
		if errors.As(err, &ex) {
			if errs, perr := ParseCopyErrors(ex.Data); perr == nil {
				return 0, &CopiesError{Errs: errs}
			}
		}
		return 0, err
	}
	n, err := strconv.Atoi(string(res))
	if err != nil {
		return 0, fmt.Errorf("fanout: result %q is not a count", res)
	}
	return n, nil
}

// Collect runs a foreground fanout with "collect": true and returns every
// subscriber's reply and failure.
func Collect(ctx context.Context, c *gearman.Client, r Request) (*Collected, error) {
	r.Collect, r.Background = true, false
	res, err := c.Call(ctx, FuncFanout, mustJSON(r))
	if err != nil {
		return nil, err
	}
	var out Collected
	if err := json.Unmarshal(res, &out); err != nil {
		return nil, fmt.Errorf("fanout: collect result: %w", err)
	}
	return &out, nil
}
