package testenv

import (
	"testing"
	"time"
)

// ReturnsWithin runs fn and fails the test if it has not returned within
// limit: a call that never returns is what such tests catch. It returns
// fn's error.
func ReturnsWithin(t testing.TB, what string, limit time.Duration, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("%s: still waiting after %v", what, limit)
		return nil
	}
}
