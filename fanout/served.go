package fanout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
)

// servedSnapshot is what the job servers' admin "status" said about which
// functions have a worker.
type servedSnapshot struct {
	started time.Time       // when the query was sent
	served  map[string]bool // functions with a worker on at least one job server
	// complete is true when every job server answered. Only then does a
	// missing function mean "nobody serves it": a worker may be connected
	// to the server that did not answer.
	complete bool
	err      error // why some server did not answer
}

// servedView asks every job server which functions have workers. It uses
// "status" rather than "workers": one line per function with a worker
// count, instead of one line per connection, clients included.
//
// Callers that ask at once share one query, but a caller never gets an
// answer to a query sent before it asked, so a worker that registered
// before a fanout started is always seen by it.
type servedView struct {
	servers []string
	timeout time.Duration
	opts    []gearman.AdminOption // how to dial them (TLS)

	mu       sync.Mutex
	admins   []*gearman.Admin // by server; nil until dialled
	last     *servedSnapshot
	inflight *servedQuery
	closed   bool
}

type servedQuery struct {
	started time.Time
	done    chan struct{}
	res     *servedSnapshot
}

func newServedView(servers []string, timeout time.Duration, opts ...gearman.AdminOption) *servedView {
	return &servedView{servers: servers, timeout: timeout, opts: opts, admins: make([]*gearman.Admin, len(servers))}
}

// get returns a snapshot from a query sent no earlier than since.
func (v *servedView) get(ctx context.Context, since time.Time) (*servedSnapshot, error) {
	for {
		v.mu.Lock()
		if v.closed {
			v.mu.Unlock()
			return nil, errors.New("fanout: worker closed")
		}
		if v.last != nil && !v.last.started.Before(since) {
			s := v.last
			v.mu.Unlock()
			return s, nil
		}
		q := v.inflight
		if q == nil {
			q = &servedQuery{started: time.Now(), done: make(chan struct{})}
			v.inflight = q
			go v.run(q)
		}
		v.mu.Unlock()
		// Either the query answers us, or it is older than we need and we
		// go round again once it is done.
		select {
		case <-q.done:
			if !q.started.Before(since) {
				return q.res, nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (v *servedView) run(q *servedQuery) {
	ctx, cancel := context.WithTimeout(context.Background(), v.timeout)
	defer cancel()
	res := &servedSnapshot{started: q.started, served: map[string]bool{}, complete: true}
	type answer struct {
		st  []gearman.FunctionStatus
		err error
	}
	answers := make([]answer, len(v.servers))
	var wg sync.WaitGroup
	for i := range v.servers {
		wg.Go(func() {
			a, err := v.admin(ctx, i)
			if err == nil {
				answers[i].st, err = a.Status(ctx)
			}
			answers[i].err = err
		})
	}
	wg.Wait()
	var errs []error
	for i, a := range answers {
		if a.err != nil {
			res.complete = false
			errs = append(errs, fmt.Errorf("%s: %w", v.servers[i], a.err))
			continue
		}
		for _, f := range a.st {
			if f.Workers > 0 {
				res.served[f.Name] = true
			}
		}
	}
	res.err = errors.Join(errs...)
	v.mu.Lock()
	q.res = res
	if v.last == nil || !v.last.started.After(res.started) {
		v.last = res
	}
	v.inflight = nil
	v.mu.Unlock()
	close(q.done)
}

// admin returns the admin connection to server i, dialling it the first
// time; an Admin redials by itself after that.
func (v *servedView) admin(ctx context.Context, i int) (*gearman.Admin, error) {
	v.mu.Lock()
	a := v.admins[i]
	v.mu.Unlock()
	if a != nil {
		return a, nil
	}
	a, err := gearman.DialAdmin(ctx, v.servers[i], v.opts...)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed || v.admins[i] != nil {
		// Closed meanwhile, or another query dialled first (only one query
		// runs at a time, so this is the closed case in practice).
		a.Close()
		if v.closed {
			return nil, errors.New("fanout: worker closed")
		}
		return v.admins[i], nil
	}
	v.admins[i] = a
	return a, nil
}

// close closes the admin connections and waits for a query in flight.
func (v *servedView) close() {
	v.mu.Lock()
	v.closed = true
	admins := v.admins
	q := v.inflight
	v.mu.Unlock()
	for _, a := range admins {
		if a != nil {
			a.Close()
		}
	}
	if q != nil {
		<-q.done
	}
}
