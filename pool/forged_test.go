package pool_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// startRogueWorker serves examples.square under client id id with
// answer, counting the chunks it gets.
func startRogueWorker(t *testing.T, addr, id string, answer gearman.JobFunc) *atomic.Int64 {
	t.Helper()
	var jobs atomic.Int64
	w, err := gearman.NewWorker([]string{addr}, gearman.WithClientID(id))
	if err != nil {
		t.Fatal(err)
	}
	w.Register(wire.GearmanPrefix+funcs.Square.Name(), func(ctx context.Context, job *gearman.Job) ([]byte, error) {
		jobs.Add(1)
		return answer(ctx, job)
	})
	done := make(chan error, 1)
	go func() { done <- w.Run() }()
	t.Cleanup(func() {
		w.Close()
		<-done
	})
	return &jobs
}

// keyedPool is a pool with a fresh cluster key, logging to log.
func keyedPool(t *testing.T, addr string, log *testenv.Output) *pool.Pool {
	t.Helper()
	_, path := testenv.KeyFile(t)
	p, err := pool.New(config.Client{JobServers: []string{addr}, KeyFile: path},
		pool.WithLogger(slog.New(slog.NewTextHandler(log, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestForgedResultsOnly: with a key, and only a worker without it, whose
// results (right or wrong) carry no MAC, a map resubmits the chunk up to
// its budget, then fails with a *ForgedResultError, not with the rogue's
// values; the log names the rogue by its client id.
func TestForgedResultsOnly(t *testing.T) {
	addr := gearmand(t)
	ctx := testenv.Context(t)
	rogue := startRogueWorker(t, addr, "rogue-only", func(ctx context.Context, job *gearman.Job) ([]byte, error) {
		return wire.Encode(wire.ChunkResult[int64]{Items: []int64{-1}})
	})
	log := testenv.NewOutput()
	p := keyedPool(t, addr, log)
	waitSlots(t, p, funcs.Square.Name(), 1)

	got, err := pool.Map(ctx, p, funcs.Square, []int64{3})
	var fe *pool.ForgedResultError
	if !errors.As(err, &fe) || !errors.Is(err, pool.ErrForgedResult) || got != nil {
		t.Fatalf("Map = %v, %v; want a *pool.ForgedResultError", got, err)
	}
	if fe.Attempts != 65 || rogue.Load() != 65 || fe.Server != addr || fe.Handle == "" {
		t.Errorf("%d answers refused, %d chunks to the rogue, server %q, job %q: want 65 (64 resubmits), %s and a handle",
			fe.Attempts, rogue.Load(), fe.Server, fe.Handle, addr)
	}
	if !strings.Contains(log.String(), `client_id=\"rogue-only\"`) {
		t.Errorf("the log does not name the rogue:\n%s", log)
	}
}

// TestSealedResultWithoutKey: a pool without the key refuses a sealed
// answer at once, saying that it has no key, instead of decoding a MAC
// frame as results.
func TestSealedResultWithoutKey(t *testing.T) {
	addr := gearmand(t)
	ctx := testenv.Context(t)
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	jobs := startRogueWorker(t, addr, "keyed", func(ctx context.Context, job *gearman.Job) ([]byte, error) {
		res, err := wire.Encode(wire.ChunkResult[int64]{Items: []int64{9}})
		return wire.SealResult(k, res, job.Function, job.Unique), err
	})
	p := newPool(t, funcs.Square.Name(), 1, addr)
	_, err = pool.Map(ctx, p, funcs.Square, []int64{3})
	if !errors.Is(err, pool.ErrForgedResult) || !strings.Contains(err.Error(), "this pool has none") || jobs.Load() != 1 {
		t.Fatalf("Map = %v after %d chunks; want one refusal saying the pool has no key", err, jobs.Load())
	}
}
