package testenv_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/testenv"
)

func TestOutputAwait(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	contains := func(s string) func(string) bool { return func(out string) bool { return strings.Contains(out, s) } }

	o := testenv.NewOutput()
	go func() {
		for i := range 100 {
			fmt.Fprintf(o, "line %d\n", i)
		}
	}()
	if out := o.WaitFor(t, ctx, "line 99\n", nil); !strings.HasPrefix(out, "line 0\n") {
		t.Fatalf("output %q", out)
	}

	// The writer is gone: a condition that no longer can hold is an error.
	stop := make(chan struct{})
	close(stop)
	if _, err := o.Await(ctx, contains("line 100"), stop); err == nil {
		t.Fatal("Await after stop: no error")
	}
	// ...but one that holds is not.
	if _, err := o.Await(ctx, contains("line 7"), stop); err != nil {
		t.Fatal(err)
	}

	short, cancelShort := context.WithCancel(ctx)
	cancelShort()
	if _, err := o.Await(short, contains("never"), nil); err != context.Canceled {
		t.Fatalf("Await with an ended context: %v", err)
	}
}
