// Package testenv holds test helpers that start real gearmand servers. It is
// the one place tests start servers, so every test gets the same isolation
// (own loopback port, own log) and the same cleanup.
package testenv

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/gearmand"
)

// logTailLines is how much of gearmand's log a failed test shows.
const logTailLines = 50

// Gearmand starts a real gearmand on a free loopback port for the test, with
// extra gearmand flags args; t.Cleanup stops it. If the test failed, the last
// 50 lines of gearmand's log are written with t.Log. If gearmand is missing
// it calls t.Fatal with the install hint: tests never skip silently.
func Gearmand(t testing.TB, args ...string) *gearmand.Process {
	t.Helper()
	p, err := gearmand.Start(context.Background(), gearmand.Options{
		Args: args,
		// In the test's temp dir so passing tests leave no logs behind;
		// failing ones get the tail below.
		LogFile: filepath.Join(t.TempDir(), "gearmand.log"),
	})
	if errors.Is(err, gearmand.ErrNotInstalled) {
		t.Fatal(err) // the message carries the apt-get hint
	}
	if err != nil {
		t.Fatalf("testenv: start gearmand: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("testenv: stop gearmand on %s: %v", p.Addr(), err)
		}
		if t.Failed() {
			t.Logf("last %d lines of gearmand log %s (port %d):\n%s", logTailLines, p.Log(), p.Port(), p.LogTail(logTailLines))
		}
	})
	return p
}

// FreePort returns a free loopback TCP port. It is free only until someone
// else takes it, so bind it soon.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ContextTimeout is how long a Context lasts: long enough for any test of
// the suite, short enough that a broken one fails instead of hanging it.
const ContextTimeout = 2 * time.Minute

// Context returns a context that ends after ContextTimeout or when the
// test ends, whichever comes first.
func Context(t testing.TB) context.Context {
	return ContextWithin(t, ContextTimeout)
}

// ContextWithin is Context with a bound of d.
func ContextWithin(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
