package testenv

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// Output collects what a child process writes (give it as the Stdout or
// Stderr of an exec.Cmd) and lets a test wait for text in it without
// sleeping.
type Output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

// NewOutput returns an empty Output.
func NewOutput() *Output { return &Output{changed: make(chan struct{})} }

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return len(p), nil
}

// String returns everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Await waits until cond holds for the output so far, and returns that
// output. It returns an error if stop is closed first (the writer is
// gone; a nil stop never is) without cond holding, or if ctx ends.
func (o *Output) Await(ctx context.Context, cond func(string) bool, stop <-chan struct{}) (string, error) {
	for {
		o.mu.Lock()
		out, changed := o.buf.String(), o.changed
		o.mu.Unlock()
		if cond(out) {
			return out, nil
		}
		select {
		case <-changed:
		case <-stop:
			if out := o.String(); cond(out) {
				return out, nil
			}
			return o.String(), fmt.Errorf("output ended")
		case <-ctx.Done():
			return o.String(), ctx.Err()
		}
	}
}

// Wait is Await that fails the test, saying what it waited for and
// showing the output, instead of returning an error.
func (o *Output) Wait(t testing.TB, ctx context.Context, what string, cond func(string) bool, stop <-chan struct{}) string {
	t.Helper()
	out, err := o.Await(ctx, cond, stop)
	if err != nil {
		t.Fatalf("gave up waiting for %s: %v; output so far:\n%s", what, err, out)
	}
	return out
}

// WaitFor waits until the output contains s.
func (o *Output) WaitFor(t testing.TB, ctx context.Context, s string, stop <-chan struct{}) string {
	t.Helper()
	return o.Wait(t, ctx, fmt.Sprintf("%q", s), func(out string) bool { return strings.Contains(out, s) }, stop)
}

// Eventually polls cond until it holds, failing the test with what it
// waited for and cond's last error once ctx ends. For conditions nothing
// announces (a server's admin status, a file); output has Wait.
func Eventually(t testing.TB, ctx context.Context, what string, cond func() (bool, error)) {
	t.Helper()
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s: %v (last error: %v)", what, ctx.Err(), lastErr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
