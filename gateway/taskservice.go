package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/tasks"
)

// TaskService returns the gateway's Tasks backed by the task store of c;
// queues' rates for GET /queues come from queues (the [queue NAME]
// sections; nil: none). Errors of package tasks map to ErrNotFound (404),
// ErrConflict (409), ErrInvalid (400) and ErrUnavailable (503: the store
// failed to commit, or the client is closed).
func TaskService(c *tasks.Client, queues map[string]config.Queue) Tasks {
	return &taskService{c: c, queues: queues}
}

type taskService struct {
	c      *tasks.Client
	queues map[string]config.Queue
}

func (s *taskService) Enqueue(ctx context.Context, req EnqueueRequest) (string, error) {
	if req.Payload == nil {
		return "", fmt.Errorf("%w: function %s: this pool cannot encode task items", ErrInvalid, req.Func)
	}
	opts := []tasks.EnqueueOption{tasks.Key(req.Key)}
	if req.Queue != "" {
		opts = append(opts, tasks.Queue(req.Queue))
	}
	switch {
	case req.HasCountdown:
		opts = append(opts, tasks.Countdown(req.Countdown))
	case !req.ETA.IsZero():
		opts = append(opts, tasks.ETA(req.ETA))
	}
	id, err := s.c.EnqueuePayload(ctx, req.Func, req.Payload, opts...)
	return string(id), taskError(err)
}

func (s *taskService) Get(ctx context.Context, id string) (TaskView, error) {
	in, err := s.c.Get(ctx, tasks.ID(id))
	if err != nil {
		return TaskView{}, taskError(err)
	}
	v := TaskView{ID: string(in.ID), Func: in.Func, Queue: in.Queue, Key: in.Key, State: string(in.State),
		Attempt: in.Attempt, MaxAttempts: in.MaxAttempts, Created: in.Created, ETA: in.ETA,
		Started: timePtr(in.Started), Finished: timePtr(in.Finished), Worker: in.Worker, Error: in.Error}
	for _, a := range in.Attempts {
		v.Attempts = append(v.Attempts, AttemptView{N: a.N, Worker: a.Worker, Started: a.Started, Ended: a.Ended, Error: a.Error})
	}
	if in.State == tasks.Succeeded {
		if v.Result, err = ResultJSON(in.Func, in.Result); err != nil {
			return TaskView{}, fmt.Errorf("task %s: decode its result: %w", id, err)
		}
	}
	return v, nil
}

func (s *taskService) Cancel(ctx context.Context, id string) error {
	return taskError(s.c.Cancel(ctx, tasks.ID(id)))
}

// Queues lists the queues holding tasks not ended and the configured
// ones, by name.
func (s *taskService) Queues(ctx context.Context) ([]QueueView, error) {
	counts, err := s.c.QueueCounts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]QueueView, 0, len(counts)+len(s.queues))
	seen := map[string]bool{}
	for _, q := range counts {
		seen[q.Queue] = true
		out = append(out, QueueView{Name: q.Queue, Scheduled: q.Scheduled, Queued: q.Queued,
			Running: q.Running, Retrying: q.Retrying, Rate: s.queues[q.Queue].Rate})
	}
	for name, q := range s.queues {
		if !seen[name] {
			out = append(out, QueueView{Name: name, Rate: q.Rate})
		}
	}
	sortQueues(out)
	return out, nil
}

func sortQueues(qs []QueueView) {
	slices.SortFunc(qs, func(a, b QueueView) int { return strings.Compare(a.Name, b.Name) })
}

// taskError wraps an error of package tasks in the gateway's error for
// its status, keeping its message.
func taskError(err error) error {
	var ee *tasks.EnqueueError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tasks.ErrStore), errors.Is(err, tasks.ErrClosed):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case errors.Is(err, tasks.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, tasks.ErrNotCancelable):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	case errors.As(err, &ee) && !errors.Is(err, tasks.ErrClosed):
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return err
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
