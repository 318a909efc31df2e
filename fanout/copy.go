package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
)

// The copy engine: one job per subscriber queue ("<topic>_<client_id>"),
// submitted at once over one pooled client.

// copyResult is what became of the copies of one fanout.
type copyResult struct {
	delivered int
	replies   map[string][]byte // foreground: by client id
	errs      []CopyError       // in subscriber order
	timedOut  int               // of errs, the copies that timed out
}

// copyOutcome is what became of one foreground copy.
type copyOutcome struct {
	reply     []byte
	err       string // "" if delivered
	abandoned bool   // may still be queued on a job server
	timedOut  bool   // the copy timeout passed
}

// copyForeground submits a copy to every subscriber at once and waits for
// every one (each for at most timeout). delivered counts the copies
// that completed; a subscriber whose queue no job server has a worker for
// fails at once instead of waiting out the timeout.
func (w *Worker) copyForeground(ctx context.Context, topic string, subs []string, payload []byte, unique string, timeout time.Duration) copyResult {
	outcomes := make([]copyOutcome, len(subs))
	w.failUnserved(ctx, topic, subs, outcomes)
	pending := func(o copyOutcome) bool { return o.err == "" }
	if !slices.ContainsFunc(outcomes, pending) {
		return tally(subs, outcomes)
	}
	c, err := w.clients.get(ctx)
	if err != nil {
		for i := range outcomes {
			if pending(outcomes[i]) {
				outcomes[i].err = "cannot reach a job server: " + err.Error()
			}
		}
		return tally(subs, outcomes)
	}
	var wg sync.WaitGroup
	for i, id := range subs {
		if pending(outcomes[i]) {
			queue := Subscription{Topic: topic, ClientID: id}.Queue()
			wg.Go(func() { outcomes[i] = callCopy(ctx, c, queue, payload, unique, timeout) })
		}
	}
	wg.Wait()
	// Closing the client is what makes gearmand drop abandoned copies.
	abandoned := func(o copyOutcome) bool { return o.abandoned }
	w.clients.put(c, !slices.ContainsFunc(outcomes, abandoned))
	return tally(subs, outcomes)
}

// failUnserved fails the copies whose queue no job server has a worker
// for. If a job server does not answer, it fails none: the timeouts
// decide.
func (w *Worker) failUnserved(ctx context.Context, topic string, subs []string, outcomes []copyOutcome) {
	if len(subs) == 0 {
		return
	}
	snap, err := w.served.get(ctx, time.Now())
	if err != nil {
		return
	}
	if !snap.complete {
		w.log.Warn("cannot tell which subscribers have a worker; waiting for all", "err", snap.err)
		return
	}
	for i, id := range subs {
		queue := Subscription{Topic: topic, ClientID: id}.Queue()
		if !snap.served[queue] {
			outcomes[i].err = fmt.Sprintf("no worker registered for queue %q on any job server", queue)
		}
	}
}

// callCopy runs one foreground copy for at most timeout.
func callCopy(ctx context.Context, c *gearman.Client, queue string, payload []byte, unique string, timeout time.Duration) copyOutcome {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reply, err := c.Call(cctx, queue, payload, gearman.WithUnique(unique))
	switch {
	case err == nil:
		return copyOutcome{reply: reply}
	case cctx.Err() == nil:
		return copyOutcome{err: copyErrorMessage(err)}
	case ctx.Err() != nil:
		return copyOutcome{abandoned: true, err: "fanout worker stopped before the copy finished; the copy was cancelled"}
	}
	return copyOutcome{abandoned: true, timedOut: true, err: fmt.Sprintf("timed out after %v; the copy was cancelled", timeout)}
}

// tally turns the outcomes, by subscriber, into a copyResult.
func tally(subs []string, outcomes []copyOutcome) copyResult {
	res := copyResult{replies: map[string][]byte{}}
	for i, o := range outcomes {
		if o.err != "" {
			res.errs = append(res.errs, CopyError{ClientID: subs[i], Err: o.err})
			if o.timedOut {
				res.timedOut++
			}
			continue
		}
		res.delivered++
		res.replies[subs[i]] = o.reply
	}
	return res
}

// copyBackground queues a background copy for every subscriber; delivered
// counts the copies the job servers accepted.
func (w *Worker) copyBackground(ctx context.Context, topic string, subs []string, payload []byte, unique string) copyResult {
	var res copyResult
	if len(subs) == 0 {
		return res
	}
	c, err := w.clients.get(ctx)
	if err != nil {
		for _, id := range subs {
			res.errs = append(res.errs, CopyError{ClientID: id, Err: "cannot reach a job server: " + err.Error()})
		}
		return res
	}
	errs := make([]string, len(subs))
	var wg sync.WaitGroup
	for i, id := range subs {
		queue := Subscription{Topic: topic, ClientID: id}.Queue()
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, w.cfg.CopyTimeout)
			defer cancel()
			if _, err := c.SubmitBackground(cctx, queue, payload, gearman.WithUnique(unique)); err != nil {
				errs[i] = copyErrorMessage(err)
			}
		})
	}
	wg.Wait()
	for i, e := range errs {
		if e != "" {
			res.errs = append(res.errs, CopyError{ClientID: subs[i], Err: e})
		} else {
			res.delivered++
		}
	}
	// A background job outlives its connection whatever happens to it.
	w.clients.put(c, true)
	return res
}

func copyErrorMessage(err error) string {
	var ex *gearman.JobException
	switch {
	case errors.As(err, &ex):
		return string(ex.Data) // the subscriber's own words, as gearhorn passes them on
	case errors.Is(err, gearman.ErrJobFailed):
		return "worker failure (WORK_FAIL)"
	}
	return err.Error()
}

func copyErrorText(errs []CopyError) string {
	b, _ := json.Marshal(errs)
	return string(b)
}
