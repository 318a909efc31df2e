package cluster

import (
	"errors"
	"testing"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/lifecycle"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// TestWorkerRunTwice: a second Run, while the first serves and after it
// ended, returns ErrWorkerRunning; the worker keeps serving and shuts
// down cleanly (it used to panic closing a closed channel).
func TestWorkerRunTwice(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	w, err := NewWorker(config.Client{JobServers: []string{srv.Addr()}}, config.Worker{Slots: 1},
		WithLogger(newLogger(testWriter{T: t}, 0)))
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	closed := false
	t.Cleanup(func() {
		if !closed {
			w.Close()
			<-ran
		}
	})
	waitWorker(t, ctx, srv.Addr(), exampleGearmanNames...)

	if err := w.Run(); !errors.Is(err, ErrWorkerRunning) {
		t.Fatalf("second Run = %v, want ErrWorkerRunning", err)
	}
	p, err := pool.New(config.Client{JobServers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	checkSquares(t, ctx, p)

	if err := w.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown after a second Run: %v", err)
	}
	closed = true
	if err := <-ran; !errors.Is(err, ErrWorkerClosed) {
		t.Fatalf("first Run = %v, want ErrWorkerClosed", err)
	}
	if err := w.Run(); !errors.Is(err, ErrWorkerRunning) {
		t.Fatalf("Run after the first ended = %v, want ErrWorkerRunning", err)
	}
}

// TestWorkerErrorsMatchLifecycle: cluster.Worker reports Run twice and
// closed the way every service does (internal/lifecycle), so one
// errors.Is check fits gearman.Worker, fanout.Worker, broker.Broker and
// cluster.Worker alike.
func TestWorkerErrorsMatchLifecycle(t *testing.T) {
	srv := testenv.Gearmand(t)
	w, err := NewWorker(config.Client{JobServers: []string{srv.Addr()}}, config.Worker{Slots: 1},
		WithLogger(newLogger(testWriter{T: t}, 0)))
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	waitWorker(t, testenv.Context(t), srv.Addr(), exampleGearmanNames...)
	if err := w.Run(); !errors.Is(err, lifecycle.ErrRunning) || !errors.Is(err, ErrWorkerRunning) {
		t.Errorf("second Run = %v, want ErrWorkerRunning wrapping lifecycle.ErrRunning", err)
	}
	w.Close()
	if err := <-ran; !errors.Is(err, lifecycle.ErrClosed) || !errors.Is(err, ErrWorkerClosed) {
		t.Errorf("Run after Close = %v, want ErrWorkerClosed wrapping lifecycle.ErrClosed", err)
	}
	if err := w.Run(); !errors.Is(err, lifecycle.ErrClosed) || !errors.Is(err, ErrWorkerRunning) {
		t.Errorf("Run after the first ended = %v, want ErrWorkerRunning and lifecycle.ErrClosed", err)
	}
	unrun, err := NewWorker(config.Client{JobServers: []string{srv.Addr()}}, config.Worker{Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	unrun.Close()
	if err := unrun.Run(); !errors.Is(err, ErrWorkerClosed) || errors.Is(err, ErrWorkerRunning) {
		t.Errorf("Run after Close of a worker that never ran = %v, want ErrWorkerClosed only", err)
	}
}
