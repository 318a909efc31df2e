package tasks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/glimpse-go/glimpse/pool"
)

const infoColumns = `id, func, queue, COALESCE(idem_key, ''), state, attempt, max_attempts, created_ms, eta_ms, started_ms, finished_ms, worker, error`

func scanInfo(sc interface{ Scan(...any) error }) (Info, error) {
	var in Info
	var id, state string
	var created, eta, started, finished int64
	err := sc.Scan(&id, &in.Func, &in.Queue, &in.Key, &state, &in.Attempt, &in.MaxAttempts,
		&created, &eta, &started, &finished, &in.Worker, &in.Error)
	in.ID, in.State = ID(id), State(state)
	in.Created, in.ETA, in.Started, in.Finished = fromMS(created), fromMS(eta), fromMS(started), fromMS(finished)
	return in, err
}

// Get returns the task id with its attempts and its encoded result.
func (c *Client) Get(ctx context.Context, id ID) (*Info, error) {
	fail := func(err error) (*Info, error) { return nil, &TaskError{ID: id, Op: "get", Err: err} }
	r := c.db.QueryRowContext(ctx, c.db.Q(`SELECT `+infoColumns+`, result FROM `+tasksTable+` WHERE id = ?`), string(id))
	var in Info
	var id2, state string
	var created, eta, started, finished int64
	err := r.Scan(&id2, &in.Func, &in.Queue, &in.Key, &state, &in.Attempt, &in.MaxAttempts,
		&created, &eta, &started, &finished, &in.Worker, &in.Error, &in.Result)
	if errors.Is(err, sql.ErrNoRows) {
		return fail(ErrNotFound)
	}
	if err != nil {
		return fail(c.db.Wrap("get task", err))
	}
	in.ID, in.State = ID(id2), State(state)
	in.Created, in.ETA, in.Started, in.Finished = fromMS(created), fromMS(eta), fromMS(started), fromMS(finished)
	if in.Attempts, err = c.attempts(ctx, id); err != nil {
		return fail(err)
	}
	return &in, nil
}

func (c *Client) attempts(ctx context.Context, id ID) ([]Attempt, error) {
	rows, err := c.db.QueryContext(ctx, c.db.Q(`SELECT attempt, worker, started_ms, ended_ms, error FROM `+attemptsTable+` WHERE task_id = ? ORDER BY attempt`), string(id))
	if err != nil {
		return nil, c.db.Wrap("get attempts", err)
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		var a Attempt
		var s, e int64
		if err := rows.Scan(&a.N, &a.Worker, &s, &e, &a.Error); err != nil {
			return nil, c.db.Wrap("get attempts", err)
		}
		a.Started, a.Ended = fromMS(s), fromMS(e)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Lookup returns the task id of f with its result decoded as Out, from any
// process with the cluster's config. A task of another function is
// ErrWrongFunction.
func Lookup[In, Out any](ctx context.Context, c *Client, f pool.Func[In, Out], id ID) (*Task[Out], error) {
	in, err := c.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if in.Func != f.Name() {
		return nil, &TaskError{ID: id, Op: "lookup", Err: fmt.Errorf("%w: it runs %s, not %s", ErrWrongFunction, in.Func, f.Name())}
	}
	t := &Task[Out]{Info: *in}
	if in.State == Succeeded && len(in.Result) > 0 {
		if t.Value, err = f.TaskResult(in.Result); err != nil {
			return nil, &TaskError{ID: id, Op: "lookup", Err: err}
		}
	}
	return t, nil
}

// Filter selects tasks for List; zero fields select all.
type Filter struct {
	State State
	Func  string
	Limit int // at most this many, newest first; 0: 100
}

// List returns tasks, newest first.
func (c *Client) List(ctx context.Context, f Filter) ([]Info, error) {
	q := `SELECT ` + infoColumns + ` FROM ` + tasksTable + ` WHERE 1=1`
	var args []any
	if f.State != "" {
		q += ` AND state = ?`
		args = append(args, string(f.State))
	}
	if f.Func != "" {
		q += ` AND func = ?`
		args = append(args, f.Func)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q += fmt.Sprintf(` ORDER BY created_ms DESC, id LIMIT %d`, f.Limit)
	rows, err := c.db.QueryContext(ctx, c.db.Q(q), args...)
	if err != nil {
		return nil, c.db.Wrap("list tasks", err)
	}
	defer rows.Close()
	var out []Info
	for rows.Next() {
		in, err := scanInfo(rows)
		if err != nil {
			return nil, c.db.Wrap("list tasks", err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// Counts returns how many tasks are in each state.
func (c *Client) Counts(ctx context.Context) (map[State]int, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM `+tasksTable+` GROUP BY state`)
	if err != nil {
		return nil, c.db.Wrap("count tasks", err)
	}
	defer rows.Close()
	out := map[State]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, c.db.Wrap("count tasks", err)
		}
		out[State(s)] = n
	}
	return out, rows.Err()
}

// Cancel cancels a scheduled, queued or retrying task: it will not run
// (a job already sent for it finds it cancelled).
func (c *Client) Cancel(ctx context.Context, id ID) error {
	now := time.Now().UnixMilli()
	res, err := c.db.ExecContext(ctx, c.db.Q(`UPDATE `+tasksTable+` SET state = ?, finished_ms = ? WHERE id = ? AND state IN (?, ?, ?)`),
		string(Cancelled), now, string(id), string(Scheduled), string(Queued), string(Retrying))
	return c.changed(ctx, id, "cancel", res, err, ErrNotCancelable)
}

// Retry runs a failed or cancelled task again, now, with one more attempt
// allowed if it had used them all.
func (c *Client) Retry(ctx context.Context, id ID) error {
	now := time.Now().UnixMilli()
	res, err := c.db.ExecContext(ctx, c.db.Q(`UPDATE `+tasksTable+` SET state = ?, eta_ms = ?, finished_ms = 0,
		max_attempts = CASE WHEN attempt >= max_attempts THEN attempt + 1 ELSE max_attempts END
		WHERE id = ? AND state IN (?, ?)`),
		string(Scheduled), now, string(id), string(Failed), string(Cancelled))
	return c.changed(ctx, id, "retry", res, err, ErrNotRetryable)
}

// changed turns an UPDATE of one task into its error: none, not found, or
// refused (the task is in the wrong state).
func (c *Client) changed(ctx context.Context, id ID, op string, res sql.Result, err error, refused error) error {
	if err != nil {
		return &TaskError{ID: id, Op: op, Err: c.db.Wrap(op, err)}
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	in, gerr := c.Get(ctx, id)
	if gerr != nil {
		return &TaskError{ID: id, Op: op, Err: errors.Unwrap(gerr)}
	}
	return &TaskError{ID: id, Op: op, Err: fmt.Errorf("%w (it is %s)", refused, in.State)}
}

// TaskStates is Counts by state name, every state present (zero counts
// too): the dashboard's dashboard.TaskStates.
func (c *Client) TaskStates(ctx context.Context) (map[string]int, error) {
	counts, err := c.Counts(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(States))
	for _, s := range States {
		out[string(s)] = counts[s]
	}
	return out, nil
}
