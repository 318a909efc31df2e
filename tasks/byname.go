package tasks

import (
	"context"
	"sort"
)

// EnqueuePayload stores a task of the registered function named function
// with payload, the item already encoded as the task's one-item chunk
// (pool.Func.TaskPayload): for a caller that holds a function by name,
// such as the HTTP gateway. It validates as Enqueue does (the name
// registered in this process, the options, the payload's size) and
// returns the same *EnqueueError values; with a Key a stored task has,
// the result is that task's id.
func (c *Client) EnqueuePayload(ctx context.Context, function string, payload []byte, opts ...EnqueueOption) (ID, error) {
	if err := checkRegistered(function); err != nil {
		return "", err
	}
	r, err := c.newRow(function, payload, opts)
	if err != nil {
		return "", err
	}
	return c.ins.add(ctx, r)
}

// QueueCounts is one queue's tasks that have not ended, by state.
type QueueCounts struct {
	Queue     string
	Scheduled int
	Queued    int
	Running   int
	Retrying  int
}

// QueueCounts returns the counts of every queue holding a task that has
// not ended, by queue name.
func (c *Client) QueueCounts(ctx context.Context) ([]QueueCounts, error) {
	rows, err := c.db.QueryContext(ctx, c.db.Q(`SELECT queue, state, COUNT(*) FROM `+tasksTable+
		` WHERE state IN (?, ?, ?, ?) GROUP BY queue, state`),
		string(Scheduled), string(Queued), string(Running), string(Retrying))
	if err != nil {
		return nil, c.db.Wrap("count queues", err)
	}
	defer rows.Close()
	byName := map[string]*QueueCounts{}
	for rows.Next() {
		var q, s string
		var n int
		if err := rows.Scan(&q, &s, &n); err != nil {
			return nil, c.db.Wrap("count queues", err)
		}
		qc := byName[q]
		if qc == nil {
			qc = &QueueCounts{Queue: q}
			byName[q] = qc
		}
		qc.add(State(s), n)
	}
	if err := rows.Err(); err != nil {
		return nil, c.db.Wrap("count queues", err)
	}
	out := make([]QueueCounts, 0, len(byName))
	for _, qc := range byName {
		out = append(out, *qc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Queue < out[j].Queue })
	return out, nil
}

func (q *QueueCounts) add(s State, n int) {
	switch s {
	case Scheduled:
		q.Scheduled += n
	case Queued:
		q.Queued += n
	case Running:
		q.Running += n
	case Retrying:
		q.Retrying += n
	}
}
