package cluster

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// Chunks and results under a cluster key: a worker runs a chunk only if a
// key holder sealed it for this function and unique id, and seals what it
// sends back (the result, the task error, the start notice) the same way,
// so that the client can tell its answers from a rogue worker's. Without
// a key nothing is sealed, and a sealed chunk is refused: it cannot be
// checked.

// authenticated wraps a function's JobFunc: the chunk is opened before
// run sees it (refused, without decoding anything, if it fails the key
// check) and run's outcome is sealed.
func (w *Worker) authenticated(run gearman.JobFunc) gearman.JobFunc {
	return func(ctx context.Context, job *gearman.Job) (result []byte, err error) {
		payload, err := w.openChunk(job)
		if err != nil {
			return nil, err
		}
		job.Data = payload
		ctx, slot := w.withResultSlot(ctx)
		defer func() {
			// A panic past RunChunk's own recovery: gearman.Worker would
			// send its text unsealed, which the client must refuse.
			if v := recover(); v != nil {
				result, err = nil, &gearman.PanicError{Value: v, Stack: debug.Stack()}
			}
			result, err = w.sealOutcome(job, slot, result, err)
		}()
		return run(ctx, job)
	}
}

// openChunk checks a chunk job's data with the worker's key and returns
// its payload. A refusal is counted, logged (a few a second at most) and
// answered with a text the client can read whether or not it has a key.
func (w *Worker) openChunk(job *gearman.Job) ([]byte, error) {
	payload, err := wire.OpenChunk(w.key, job.Data, job.Function, job.Unique)
	if err == nil {
		return payload, nil
	}
	if log, skipped, n := w.refusedChunks.Add(time.Now()); log {
		w.log.Warn("chunk refused: it failed the cluster key check; nothing of it ran", "function", job.Function,
			"job", job.Handle, "err", err, "refused_chunks", n, "refused_unlogged", skipped)
	}
	return nil, &chunkRefusedError{worker: w.id, hasKey: w.key != nil, err: err}
}

// chunkRefusedError is the answer to a chunk that failed the key check.
type chunkRefusedError struct {
	worker string
	hasKey bool
	err    error
}

func (e *chunkRefusedError) Error() string {
	if e.hasKey {
		return fmt.Sprintf("chunk refused by worker %s: %v: this worker has a cluster key; give the client the same key_file", e.worker, e.err)
	}
	return fmt.Sprintf("chunk refused by worker %s: %v: this worker has no key_file", e.worker, e.err)
}

func (e *chunkRefusedError) Unwrap() error { return e.err }

// sealOutcome seals a chunk's result, or its error's exception data.
func (w *Worker) sealOutcome(job *gearman.Job, slot *resultSlot, result []byte, err error) ([]byte, error) {
	if w.key == nil {
		return result, err
	}
	if err == nil {
		// jobFunc's results come from runLimited with the frame's
		// headroom reserved (resultHeadroom).
		if frame, ok := slot.frameOf(result); ok {
			return wire.SealResultInPlace(w.key, frame, job.Function, job.Unique), nil
		}
		return wire.SealResult(w.key, result, job.Function, job.Unique), nil
	}
	data := []byte(err.Error())
	var ex *gearman.JobException
	if errors.As(err, &ex) {
		data = ex.Data
	}
	sealed := &gearman.JobException{Data: wire.SealTaskError(w.key, data, job.Function, job.Unique)}
	return nil, &sealedError{sealed: sealed, err: err}
}

// sealedError is a chunk's error with its sealed exception: gearman.Worker
// sends the sealed one (found first by errors.As), and the logs still
// see the original.
type sealedError struct {
	sealed *gearman.JobException
	err    error
}

func (e *sealedError) Error() string   { return e.err.Error() }
func (e *sealedError) Unwrap() []error { return []error{e.sealed, e.err} }

// resultSlot lets runLimited hand the sealing wrapper its result's whole
// buffer, with auth.FrameOverhead bytes free in front, so that a result
// of many megabytes is sealed in place rather than copied once more. It
// travels in the chunk's context; without it (or for a result that is not
// that buffer's tail) the result is copied into a new frame.
type resultSlot struct{ frame []byte }

type resultSlotKey struct{}

// withResultSlot returns ctx carrying a new slot, when results are sealed.
func (w *Worker) withResultSlot(ctx context.Context) (context.Context, *resultSlot) {
	if w.key == nil {
		return ctx, nil
	}
	slot := &resultSlot{}
	return context.WithValue(ctx, resultSlotKey{}, slot), slot
}

// resultHeadroom is the room runLimited leaves in front of a result, and
// the slot to put the whole buffer in: none without one.
func resultHeadroom(ctx context.Context) (int, *resultSlot) {
	slot, _ := ctx.Value(resultSlotKey{}).(*resultSlot)
	if slot == nil {
		return 0, nil
	}
	return auth.FrameOverhead, slot
}

// frameOf returns the slot's buffer if result is exactly its tail after
// the headroom.
func (s *resultSlot) frameOf(result []byte) ([]byte, bool) {
	if s == nil || len(result) == 0 || len(s.frame) != auth.FrameOverhead+len(result) {
		return nil, false
	}
	return s.frame, &s.frame[auth.FrameOverhead] == &result[0]
}

// chunkStarted is the worker's start notice for a chunk, sealed.
func (w *Worker) chunkStarted(job *gearman.Job) []byte {
	notice := wire.ChunkStarted(w.id)
	if w.key == nil {
		return notice
	}
	return wire.SealNotice(w.key, notice, job.Function, job.Unique)
}

// refusalLogEvery bounds the warnings about refused chunks.
const refusalLogEvery = time.Second
