package gearmantest

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
)

// CheckTimeout fails the test unless err is a request timeout of after
// that names addr and what never came (waiting, a part of the message).
func CheckTimeout(t testing.TB, what string, err error, addr, waiting string, after time.Duration) {
	t.Helper()
	var te *gearman.TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: %v; want a *gearman.TimeoutError", what, err)
	}
	if te.After != after || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), waiting) {
		t.Fatalf("%s: %v; want it to name %s, %q and %v", what, err, addr, waiting, after)
	}
}
