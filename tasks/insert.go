package tasks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glimpse-go/glimpse/internal/store"
)

// maxInsertBatch bounds the rows of one group-commit transaction (and so
// its statement's placeholders: 13 per row).
const maxInsertBatch = 512

// ErrStore is what Enqueue's error wraps when the task store failed to
// commit the task (the store's error is wrapped too): it is not stored,
// unless the failure hid a commit that went through (a connection lost
// during COMMIT); enqueue again, with a Key to be sure of one task.
var ErrStore = errors.New("task store failed")

// commitWindow bounds how long a batch waits for the callers that
// enqueued together with the last one.
const commitWindow = time.Millisecond

// storeTimeout bounds one transaction of the background loops.
const storeTimeout = 30 * time.Second

// inserter commits the rows of concurrent Enqueue calls together: one
// goroutine takes every row waiting, inserts them in one transaction,
// answers each call, and hands the due tasks to the sender.
type inserter struct {
	c       *Client
	in      chan *pending
	window  time.Duration // commitWindow; a test's own
	commits atomic.Int64  // transactions tried, for tests
	mu      sync.RWMutex  // closing: held for writing, so no add sends on a closed channel
	done    bool
	wg      sync.WaitGroup
	// stopCheckpoints ends the store's background checkpoints.
	stopCheckpoints func()
}

// checkpointInterval is how often the store's WAL is checkpointed in the
// background, off the inserter's commits (see store.StartCheckpointer).
const checkpointInterval = 200 * time.Millisecond

type pending struct {
	r   *row
	id  ID
	err error
	ok  chan struct{}
}

func newInserter(c *Client) *inserter {
	ins := &inserter{c: c, in: make(chan *pending, maxInsertBatch), window: commitWindow, stopCheckpoints: func() {}}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if stop, err := c.db.StartCheckpointer(ctx, checkpointInterval); err == nil {
		ins.stopCheckpoints = stop
	} else {
		// SQLite checkpoints on the commit path then, as by default.
		c.log.Warn("tasks: background WAL checkpoints not started", "err", err)
	}
	ins.wg.Add(1)
	go ins.loop()
	return ins
}

func (ins *inserter) add(ctx context.Context, r *row) (ID, error) {
	p := &pending{r: r, ok: make(chan struct{})}
	ins.mu.RLock()
	if ins.done {
		ins.mu.RUnlock()
		return "", ErrClosed
	}
	select {
	case ins.in <- p:
	case <-ctx.Done():
		ins.mu.RUnlock()
		return "", ctx.Err()
	}
	ins.mu.RUnlock()
	select {
	case <-p.ok:
		return p.id, p.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (ins *inserter) close() {
	ins.mu.Lock()
	if !ins.done {
		ins.done = true
		close(ins.in)
	}
	ins.mu.Unlock()
	ins.wg.Wait()
	ins.stopCheckpoints()
}

func (ins *inserter) loop() {
	defer ins.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	company := 1
	for p := range ins.in {
		batch := ins.gather(p, company, timer)
		// The callers answered and those that came meanwhile: as many
		// are likely to enqueue again together.
		company = min(len(batch)+ins.commit(batch), maxInsertBatch)
	}
}

// gather takes p and every row waiting. With fewer rows than company
// (the callers that enqueued together last time: HTTP clients, say, each
// waiting for its answer before sending the next), it waits up to
// commitWindow for the others: one transaction for them all costs less
// than one each. A lone caller waits for no one.
func (ins *inserter) gather(p *pending, company int, timer *time.Timer) []*pending {
	batch := ins.drain([]*pending{p})
	if len(batch) >= company {
		return batch
	}
	timer.Reset(ins.window)
	defer timer.Stop()
	for len(batch) < company {
		select {
		case q, ok := <-ins.in:
			if !ok {
				return batch
			}
			batch = append(batch, q)
		case <-timer.C:
			return ins.drain(batch)
		}
	}
	return ins.drain(batch)
}

// drain appends the rows waiting now, up to maxInsertBatch.
func (ins *inserter) drain(batch []*pending) []*pending {
	for len(batch) < maxInsertBatch {
		select {
		case q, ok := <-ins.in:
			if !ok {
				return batch
			}
			batch = append(batch, q)
		default:
			return batch
		}
	}
	return batch
}

// commit inserts batch, answers its calls and sends the due tasks. It
// returns the rows that came during the transaction (counted before the
// answers: an answered caller may enqueue again at once).
func (ins *inserter) commit(batch []*pending) (came int) {
	ctx, cancel := ins.commitContext()
	defer cancel()
	inserted, err := ins.c.insert(ctx, batch)
	ins.commits.Add(1)
	if err != nil && len(batch) > 1 && ctx.Err() == nil {
		inserted, err = ins.insertEach(ctx, batch), nil
	}
	came = len(ins.in)
	due := map[string][]ID{}
	for _, p := range batch {
		if err != nil {
			p.err = storeError(p, err)
		} else if inserted[p.r.id] && p.r.state == Queued {
			due[p.r.fn] = append(due[p.r.fn], p.r.id)
		}
		close(p.ok)
	}
	for fn, ids := range due {
		ins.c.send.queue(fn, ids)
	}
	return came
}

// commitContext bounds a group commit: storeTimeout, except on SQLite,
// whose waits for the file's write lock busy_timeout bounds (the rest is
// local file I/O): there a context that can end costs the commit every
// enqueue waits for a goroutine per statement (database/sql's for the
// transaction, the driver's for each statement, to interrupt it) and a
// progress handler, for a bound the lock's timeout already sets.
func (ins *inserter) commitContext() (context.Context, context.CancelFunc) {
	if ins.c.db.Dialect == store.SQLite {
		return context.Background(), func() {}
	}
	return context.WithTimeout(context.Background(), storeTimeout)
}

// insertEach inserts the rows of a batch the store refused one at a time:
// a row it refuses (a trigger, a constraint) fails alone, not the callers
// it shared a transaction with.
func (ins *inserter) insertEach(ctx context.Context, batch []*pending) map[ID]bool {
	inserted := map[ID]bool{}
	for _, p := range batch {
		p.id, p.err = "", nil
		one, err := ins.c.insert(ctx, []*pending{p})
		ins.commits.Add(1)
		if err != nil {
			p.err = storeError(p, err)
			continue
		}
		maps.Copy(inserted, one)
	}
	return inserted
}

func storeError(p *pending, err error) error {
	return fmt.Errorf("tasks: enqueue %s: %w: %w", p.r.fn, ErrStore, err)
}

// insert writes the rows in one transaction and sets each pending's id:
// its own, or for a key that a stored task has, that task's. It returns
// the ids it inserted.
func (c *Client) insert(ctx context.Context, batch []*pending) (map[ID]bool, error) {
	// Prepared before the transaction: on SQLite it holds the only
	// connection.
	rest := batch
	for _, n := range chunkSizes(len(batch)) {
		if _, err := c.insertStmt(n, hasKeys(rest[:n])); err != nil {
			return nil, err
		}
		rest = rest[n:]
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, c.db.Wrap("insert tasks", err)
	}
	defer tx.Rollback()
	inserted, err := c.insertRows(ctx, tx, batch)
	if err != nil {
		return nil, err
	}
	if err := c.resolveKeys(ctx, tx, batch, inserted); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, c.db.Wrap("insert tasks", err)
	}
	return inserted, nil
}

const insertColumns = `(id, func, queue, idem_key, state, payload, max_attempts, min_backoff, max_backoff, created_ms, eta_ms, dispatched_ms, worker)`

// insertRows inserts every row whose key no stored task has; ON CONFLICT
// DO NOTHING skips the others (the unique key holds against concurrent
// clients too), and RETURNING tells which went in. A chunk without keys
// has nothing to skip: a plain INSERT, whose rows all go in or whose
// error fails the batch, spares SQLite the RETURNING rows and us their
// reading. The rows go in chunks (chunkSizes), whose statements are
// prepared once per size.
func (c *Client) insertRows(ctx context.Context, tx *sql.Tx, batch []*pending) (map[ID]bool, error) {
	inserted := make(map[ID]bool, len(batch))
	for _, n := range chunkSizes(len(batch)) {
		if err := c.insertChunk(ctx, tx, batch[:n], inserted); err != nil {
			return nil, err
		}
		batch = batch[n:]
	}
	return inserted, nil
}

// chunkSizes cuts n rows into chunks, each inserted by a statement of
// its own, prepared once per size: up to exactChunks rows, one chunk of
// exactly n (a statement more cost a batch of 10 rows a fifth more than
// one INSERT of all 10: 8 + 2 was what 10 HTTP clients' enqueues made);
// more, powers of two of at most maxInsertChunk, then the rest, at most
// exactChunks.
func chunkSizes(n int) []int {
	var out []int
	for n > exactChunks {
		c := 1
		for c*2 <= n && c*2 <= maxInsertChunk {
			c *= 2
		}
		out = append(out, c)
		n -= c
	}
	if n > 0 {
		out = append(out, n)
	}
	return out
}

// maxInsertChunk is the most rows of one INSERT statement.
const maxInsertChunk = 256

// exactChunks is the most rows of a chunk of any size; above it, chunks
// are powers of two (so at most exactChunks+3 statements of each kind).
const exactChunks = 32

func (c *Client) insertChunk(ctx context.Context, tx *sql.Tx, chunk []*pending, inserted map[ID]bool) error {
	keys := hasKeys(chunk)
	st, err := c.insertStmt(len(chunk), keys)
	if err != nil {
		return err
	}
	args := insertArgs(chunk)
	if !keys {
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...); err != nil {
			return c.db.Wrap("insert tasks", err)
		}
		for _, p := range chunk {
			inserted[p.r.id] = true
		}
		return nil
	}
	return c.insertReturning(ctx, tx.StmtContext(ctx, st), args, inserted)
}

// hasKeys says whether a row of chunk has an idempotency key.
func hasKeys(chunk []*pending) bool {
	for _, p := range chunk {
		if p.r.key != "" {
			return true
		}
	}
	return false
}

// insertArgs is the chunk's rows, insertColumns each. The rows of a
// batch mostly share their function, queue, state, retry config and
// times (milliseconds): a value equal to the row before's reuses its
// boxed copy instead of allocating its own.
func insertArgs(chunk []*pending) []any {
	const cols = 13
	args := make([]any, 0, cols*len(chunk))
	var prev *row
	for i, p := range chunk {
		r := p.r
		var key any
		if r.key != "" {
			key = r.key
		}
		if prev == nil {
			args = append(args, string(r.id), r.fn, r.queue, key, string(r.state), r.payload, r.retry.MaxAttempts,
				r.retry.MinBackoff.Milliseconds(), r.retry.MaxBackoff.Milliseconds(), r.created, r.eta, r.dispatch, "")
			prev = r
			continue
		}
		last := args[(i-1)*cols : i*cols]
		args = append(args, string(r.id), same(last[1], prev.fn, r.fn), same(last[2], prev.queue, r.queue), key,
			same(last[4], prev.state, r.state), r.payload, same(last[6], prev.retry.MaxAttempts, r.retry.MaxAttempts),
			same(last[7], prev.retry.MinBackoff, r.retry.MinBackoff), same(last[8], prev.retry.MaxBackoff, r.retry.MaxBackoff),
			same(last[9], prev.created, r.created), same(last[10], prev.eta, r.eta), same(last[11], prev.dispatch, r.dispatch), "")
		prev = r
	}
	return args
}

// same returns boxed, the argument made of was, when is equals was;
// else is's argument (a State as its string, a backoff in milliseconds).
func same[T comparable](boxed any, was, is T) any {
	if was == is {
		return boxed
	}
	switch v := any(is).(type) {
	case State:
		return string(v)
	case time.Duration:
		return v.Milliseconds()
	}
	return is
}

// insertReturning runs the INSERT ... ON CONFLICT DO NOTHING RETURNING id
// of a chunk with keys and notes the ids that went in.
func (c *Client) insertReturning(ctx context.Context, st *sql.Stmt, args []any, inserted map[ID]bool) error {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return c.db.Wrap("insert tasks", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return c.db.Wrap("insert tasks", err)
		}
		inserted[ID(id)] = true
	}
	if err := rows.Err(); err != nil {
		return c.db.Wrap("insert tasks", err)
	}
	return nil
}

// insertStmt returns the prepared INSERT of n rows: for rows with keys
// (keys) the one that skips a stored key and returns the ids it inserted,
// else a plain one. c.stmts holds the first by n, the second by -n. Only
// the inserter's goroutine calls it.
func (c *Client) insertStmt(n int, keys bool) (*sql.Stmt, error) {
	slot, tail := -n, ``
	if keys {
		slot, tail = n, ` ON CONFLICT DO NOTHING RETURNING id`
	}
	if st := c.stmts[slot]; st != nil {
		return st, nil
	}
	values := make([]byte, 0, 28*n)
	for i := range n {
		if i > 0 {
			values = append(values, ',')
		}
		values = append(values, "(?,?,?,?,?,?,?,?,?,?,?,?,?)"...)
	}
	q := `INSERT INTO ` + tasksTable + ` ` + insertColumns + ` VALUES ` + string(values) + tail
	// Not ctx: the statement outlives this commit.
	st, err := c.db.PrepareContext(context.Background(), c.db.Q(q))
	if err != nil {
		return nil, c.db.Wrap("insert tasks", err)
	}
	c.stmts[slot] = st
	return st, nil
}

var errKeyVanished = errors.New("the task holding the idempotency key was removed during the enqueue; enqueue again")

// resolveKeys gives each row that was not inserted the id of the task
// that holds its key.
func (c *Client) resolveKeys(ctx context.Context, tx *sql.Tx, batch []*pending, inserted map[ID]bool) error {
	var keys []any
	for _, p := range batch {
		if inserted[p.r.id] {
			p.id = p.r.id
		} else {
			keys = append(keys, p.r.key)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, c.db.Q(`SELECT idem_key, id FROM `+tasksTable+` WHERE idem_key IN (`+placeholders(len(keys))+`)`), keys...)
	if err != nil {
		return c.db.Wrap("look up idempotency keys", err)
	}
	defer rows.Close()
	holders := map[string]ID{}
	for rows.Next() {
		var k, id string
		if err := rows.Scan(&k, &id); err != nil {
			return c.db.Wrap("look up idempotency keys", err)
		}
		holders[k] = ID(id)
	}
	if err := rows.Err(); err != nil {
		return c.db.Wrap("look up idempotency keys", err)
	}
	for _, p := range batch {
		if p.id != "" {
			continue
		}
		if id, ok := holders[p.r.key]; ok && p.r.key != "" {
			p.id = id
		} else {
			p.err = errKeyVanished
		}
	}
	return nil
}
