package pool

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// Chunks and results under a cluster key: the client seals each chunk
// (bound to its Gearman function and unique id), and accepts a result, a
// task error or a start notice only if a key holder sealed it for that
// same chunk. Anyone may register a Gearman function next to the real
// workers and answer chunks; what such a rogue answers now fails the
// attempt, and the chunk is submitted again.

// ErrForgedResult is wrapped by a *ForgedResultError.
var ErrForgedResult = errors.New("pool: a chunk's result failed the cluster key check")

// maxForgedResults bounds the answers of one chunk that may fail the key
// check before the map fails. A rogue worker can grab the resubmitted
// chunk too, and one that answers at once while the honest workers are
// busy takes most of them (measured: about 3 in 4 beside a worker process
// with two busy slots), so the budget is generous: 64 in a row is what no
// key holder serving the function looks like. It is a budget of its own,
// apart from Retries.
const maxForgedResults = 64

// ForgedResultError is a chunk's answer (result or task error) that
// failed the cluster key check: a worker without the key (a rogue one
// that took the chunk, or one started without key_file), or an answer
// signed with a key while this pool has none. With a key, the map submits
// the chunk again, up to a budget of its own (not Retries), and fails with
// this error once the budget is spent; without one it fails at once.
// errors.Is(err, ErrForgedResult) holds for it.
type ForgedResultError struct {
	Func        string // registered function name
	Chunk       int    // the chunk's index in the map
	First, Last int    // input indexes of its first and last items
	Server      string // the job server the answer came through
	Handle      string // the job's handle there
	Attempts    int    // answers of this chunk that failed the check so far
	// Claimed is the text of a refused task error, unverified: a worker
	// without the key explains itself here ("signed, but this process
	// has no cluster key"), and so may a rogue.
	Claimed string
	Reason  error // the key check's refusal
}

func (e *ForgedResultError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pool: %s: %s: ", e.Func, chunkSpan(e.Chunk, e.First, e.Last))
	if e.Attempts > 1 {
		fmt.Fprintf(&b, "%d answers failed the cluster key check; the last, ", e.Attempts)
	} else {
		b.WriteString("the answer ")
	}
	fmt.Fprintf(&b, "from job server %s (job %s): %v", e.Server, e.Handle, e.Reason)
	if errors.Is(e.Reason, auth.ErrNoKey) {
		b.WriteString(": the workers have a cluster key and this pool has none ([client] key_file)")
	} else {
		b.WriteString(": a worker without this cluster key (a rogue one, or one without key_file) answered it")
	}
	if e.Claimed != "" {
		fmt.Fprintf(&b, "; it said (unverified): %q", firstLine(e.Claimed, 200))
	}
	return b.String()
}

// Unwrap returns ErrForgedResult and the key check's refusal.
func (e *ForgedResultError) Unwrap() []error { return []error{ErrForgedResult, e.Reason} }

func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}

// gearmanName is the Gearman function the copy's job runs under.
func (c *chunkCall[In, Out]) gearmanName() string { return wire.GearmanPrefix + c.m.f.name }

// seal frames an encoded chunk (made with auth.FrameOverhead bytes of
// headroom when the pool has a key) with its MAC, in place.
func (c *chunkCall[In, Out]) seal(payload []byte) []byte {
	if c.m.p.key != nil {
		wire.SealChunkInPlace(c.m.p.key, payload, c.gearmanName(), c.unique)
	}
	return payload
}

// headroom is the room a chunk's encoding leaves in front for seal.
func (p *Pool) headroom() int {
	if p.key == nil {
		return 0
	}
	return auth.FrameOverhead
}

// verify checks an attempt's answer with the pool's key: the result's
// payload, or the error with a task error's data opened, or a
// *ForgedResultError. Errors without data (WORK_FAIL, a lost connection)
// pass unchanged.
func (c *chunkCall[In, Out]) verify(task *gearman.Task, data []byte, err error) ([]byte, error) {
	key := c.m.p.key
	if err == nil {
		payload, oerr := wire.OpenResult(key, data, c.gearmanName(), c.unique)
		if oerr != nil {
			return nil, c.forged(task, oerr, "")
		}
		return payload, nil
	}
	var ex *gearman.JobException
	if !errors.As(err, &ex) {
		return nil, err
	}
	payload, oerr := wire.OpenTaskError(key, ex.Data, c.gearmanName(), c.unique)
	if oerr != nil {
		return nil, c.forged(task, oerr, claimedText(ex.Data))
	}
	return nil, &gearman.JobException{Function: ex.Function, Handle: ex.Handle, Data: payload}
}

// claimedText is a refused task error's data if it is printable text
// (an encoded task error is not), else "".
func claimedText(data []byte) string {
	if !utf8.Valid(data) || strings.IndexFunc(string(data), notPrintable) >= 0 {
		return ""
	}
	return string(data)
}

func notPrintable(r rune) bool { return !unicode.IsPrint(r) && r != '\n' && r != '\t' }

func (c *chunkCall[In, Out]) forged(task *gearman.Task, reason error, claimed string) *ForgedResultError {
	h := task.Handle()
	c.forgedN++
	return &ForgedResultError{Func: c.m.f.name, Chunk: c.f.idx, First: c.f.start, Last: c.f.last(),
		Server: h.Server, Handle: h.Handle, Attempts: c.forgedN, Claimed: claimed, Reason: reason}
}

// priority is the queue of the copy's next attempt: after an answer that
// failed the key check, the high one, so that the next worker slot to
// ask takes the chunk, an honest one as likely as the rogue.
func (c *chunkCall[In, Out]) priority() gearman.Priority {
	if c.forgedN > 0 || c.needs > 0 { // sent again: it was at the head already
		return gearman.PriorityHigh
	}
	return c.m.o.priority.gearman()
}

// startedBy returns the worker a start notice names, if it passes the
// key check; a notice that does not is counted and ignored, so that a
// rogue cannot fake a crash loop.
func (c *chunkCall[In, Out]) startedBy(data []byte) (string, bool) {
	notice, err := wire.OpenNotice(c.m.p.key, data, c.gearmanName(), c.unique)
	if err != nil {
		c.m.p.forgedNotices.Add(1)
		return "", false
	}
	worker, ok := wire.ParseChunkStarted(notice)
	if ok && c.m.p.key != nil {
		c.m.p.known.add(worker)
	}
	return worker, ok
}

// knownWorkers are the ids of the worker processes that proved they hold
// the key (their start notices passed the check): when a result fails it,
// the connections serving the function under other names are the
// suspects.
type knownWorkers struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

// maxKnownWorkers bounds the ids remembered.
const maxKnownWorkers = 4096

func (k *knownWorkers) add(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.ids[id]; ok || len(k.ids) >= maxKnownWorkers {
		return
	}
	if k.ids == nil {
		k.ids = map[string]struct{}{}
	}
	k.ids[id] = struct{}{}
}

func (k *knownWorkers) has(id string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.ids[id]
	return ok
}
