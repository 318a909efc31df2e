package testenv

import (
	"testing"

	"github.com/glimpse-go/glimpse/internal/countproxy"
)

// CountBytes starts a proxy to backend that counts the bytes through it
// (countproxy); the test's cleanup closes it and its connections.
func CountBytes(t testing.TB, backend string) *countproxy.Proxy {
	t.Helper()
	p, err := countproxy.Listen(backend)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}
