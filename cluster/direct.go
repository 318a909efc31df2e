package cluster

import (
	"context"
	"errors"
	"log/slog"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/direct"
)

// fetchDirect fetches the payload of a chunk whose job carries a
// reference (the direct path, package internal/direct) from its client,
// and makes it job.Data. A job of any other kind is left alone (nil, nil,
// nil). A payload over max_chunk_bytes is refused before it is fetched,
// as a chunk relayed by the job server would be; one that cannot be
// fetched gets the answer that makes its client send it through the job
// server instead.
func (w *Worker) fetchDirect(ctx context.Context, name string, job *gearman.Job) (f *direct.Fetch, answer []byte, err error) {
	if !direct.IsRef(job.Data) {
		return nil, nil, nil
	}
	ref, err := direct.ParseRef(job.Data)
	if err != nil {
		w.log.Warn("chunk with a malformed direct reference", "function", name, "job", job.Handle, "err", err)
		return nil, direct.Failed(direct.ReasonRefused), nil
	}
	if ref.Len > int64(w.limits.maxBytes) {
		return nil, nil, w.refuseChunk(name, job, w.bytesOver(int(min(ref.Len, 1<<62))))
	}
	f, err = direct.Open(ctx, ref, int64(w.limits.maxBytes))
	if err != nil {
		level := slog.LevelWarn
		if ctx.Err() != nil || errors.Is(err, direct.ErrGone) {
			level = slog.LevelDebug // its map ended: nobody waits for it
		}
		w.log.Log(ctx, level, "cannot fetch a chunk from its client; it comes again through the job server",
			"function", name, "job", job.Handle, "from", ref.Addr, "err", err)
		return nil, direct.Failed(direct.ReasonOf(err)), nil
	}
	job.Data = f.Payload
	return f, nil, nil
}

// answer is a chunk's answer to its job: its result, sent back directly
// if the chunk was fetched (a nil fetched: it was not), or with its parts
// after it (gearman.Job.SetMoreResult); or its error.
func (w *Worker) answer(fetched *direct.Fetch, job *gearman.Job, result []byte, more [][]byte, err error) ([]byte, error) {
	if err == nil && fetched != nil {
		return w.deliverDirect(fetched, job, result, more), nil
	}
	if more != nil {
		job.SetMoreResult(more...)
	}
	return result, err
}

// deliverDirect sends a fetched chunk's result back to its client on the
// fetch's connection and returns the job's answer, direct.ResultSent: the
// client takes the result it stored. A result that cannot be delivered
// goes through the job server after all.
func (w *Worker) deliverDirect(f *direct.Fetch, job *gearman.Job, result []byte, more [][]byte) []byte {
	if err := f.Deliver(append([][]byte{result}, more...)); err != nil {
		w.log.Debug("cannot send a result to its client directly; it goes through the job server",
			"job", job.Handle, "err", err)
		job.SetMoreResult(more...)
		return result
	}
	return direct.ResultSent
}
