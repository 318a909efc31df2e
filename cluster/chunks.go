package cluster

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/direct"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// jobFunc serves one function: the chunk's outcome goes back unchanged
// (a failure is already a *gearman.JobException carrying the encoded task
// error); the worker only counts and logs. A cancel command for the
// chunk's map cancels its context (see chunkRegistry).
func (w *Worker) jobFunc(f wire.Function) gearman.JobFunc {
	name := f.Name()
	return func(ctx context.Context, job *gearman.Job) (answer []byte, err error) {
		ctx, cancel, err := w.chunks.start(ctx, wire.ChunkMapID(job.Unique))
		if err != nil {
			w.log.Debug("chunk refused", "function", name, "job", job.Handle, "err", err)
			return nil, err
		}
		defer cancel(nil)
		// A chunk whose job carries a reference (direct.go) is fetched
		// first: job.Data becomes its payload.
		fetched, answer, err := w.fetchDirect(ctx, name, job)
		if fetched == nil && (answer != nil || err != nil) {
			return answer, err
		}
		defer fetched.Close()
		size := len(job.Data) // before a shared value's header is stripped
		w.active.Add(1)
		start := time.Now()
		var result []byte
		var more [][]byte // result parts sent after result, from where they are (runChunk)
		defer func() {
			took, moreBytes := time.Since(start), int(direct.Size(more))
			w.chunkEnded(ctx, name, job.Handle, took, len(result)+moreBytes, context.Cause(ctx), err)
			w.countChunk(name, job.Data, result, moreBytes, took, context.Cause(ctx), err)
			w.mem.chunkDone(size+len(result)+moreBytes, func() bool { return w.active.Load() == 0 })
		}()
		// Limits (limits.go): refused before it is decoded, stopped at
		// chunk_time_limit, failed once it killed crash_loop_limit workers.
		if err := w.checkLimits(f, job); err != nil {
			return nil, err
		}
		// A shared value (sharedcache.go): a worker that lacks it says so
		// before the start notice, which counts the workers a chunk went to.
		shared, err := w.beginShared(f, job)
		if err != nil {
			return nil, err
		}
		leave, err := w.crashes.enter(f, job)
		if err != nil {
			return nil, err
		}
		defer leave()
		// Tell the client who runs the chunk: if this process dies, the
		// client can count the workers the chunk went through. A chunk
		// bringing its map's shared value tells it at once: the client
		// sends that worker its other chunks by hash only once it knows.
		if shared.inline() {
			job.SendData(w.chunkStarted(job))
		} else {
			w.announce(job)
		}
		if ctx, err = shared.value(ctx, w, job); err != nil {
			return nil, err
		}
		result, more, err = w.runLimited(ctx, cancel, f, job)
		return w.answer(fetched, job, result, more, err)
	}
}

// announce tells the client who runs the chunk: if this process dies,
// the client can count the workers the chunk went through
// (pool.ErrCrashLoop), and knows whom to tell to cancel it. Only a chunk
// that still runs after noticeDelay needs it: without a key, a faster
// one sends none (a packet fewer for gearmand to relay per chunk); with
// one, the sealed notice also proves to the client that this worker holds
// the key (its rogue warnings name the others), so it goes out in the
// same write as a fast chunk's result.
func (w *Worker) announce(job *gearman.Job) {
	if w.key == nil {
		job.SendDataIfRunning(w.chunkStarted(job), noticeDelay)
		return
	}
	job.SendDataSoon(w.chunkStarted(job), noticeDelay)
}

// noticeDelay is how long a chunk's start notice waits. A worker that
// dies within it of taking a chunk is not counted by the client
// (ErrCrashLoop); the workers' own crash guard (crashguard.go) still
// counts it.
const noticeDelay = time.Millisecond

// chunkEnded counts and logs a chunk's end. A chunk cancelled by its map
// is no failure: its client is gone and gearmand drops what it returns.
func (w *Worker) chunkEnded(ctx context.Context, name, handle string, took time.Duration, size int, cause, err error) {
	w.active.Add(-1)
	w.busy.Add(int64(took))
	w.requests.Add(1)
	switch {
	case err != nil && errors.Is(cause, errMapCancelled):
		w.log.Debug("chunk cancelled", "function", name, "job", handle, "took", took)
	case err != nil && isNeedShared(err):
		w.log.Debug("chunk sent back for its shared value", "function", name, "job", handle)
	case err != nil:
		w.failures.Add(1)
		msg := failureText(err)
		w.mu.Lock()
		w.lastErr, w.lastErrTime = msg, time.Now()
		w.mu.Unlock()
		w.log.Log(ctx, failureLevel(err), "chunk failed", "function", name, "job", handle, "took", took, "err", msg)
	default:
		w.log.Debug("chunk done", "function", name, "job", handle, "took", took, "bytes", size)
	}
}

// countChunk adds a chunk's end to the worker's metrics, if its Collector
// was asked for. A chunk its map cancelled counts, as no failure.
func (w *Worker) countChunk(name string, payload, result []byte, more int, took time.Duration, cause, err error) {
	m := w.metrics.Load()
	if m == nil {
		return
	}
	if err != nil && errors.Is(cause, errMapCancelled) {
		err, result, more = nil, nil, 0
	}
	m.chunkEnded(name, payload, result, took, err)
	m.bytesOut.Add(uint64(more)) // the result's parts after result
}

// failureText makes a chunk's error readable for logs and Stats: the
// *pool.TaskError if it can be had, else the exception text if it is
// text. (The encoded task error is for the client, not for people.)
func failureText(err error) string {
	var te *pool.TaskError
	if errors.As(err, &te) {
		return firstLine(te.Error())
	}
	var ex *gearman.JobException
	if errors.As(err, &ex) {
		if isText(ex.Data) {
			return firstLine(string(ex.Data))
		}
		return "task failed (its error was sent to the client)"
	}
	return firstLine(err.Error())
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func isText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	return strings.IndexFunc(string(b), func(r rune) bool {
		return !unicode.IsPrint(r) && r != '\n' && r != '\t'
	}) < 0
}
