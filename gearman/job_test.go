package gearman

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
)

// A panic in a job function comes out of runJob as a *PanicError that
// errors.As finds, whose text (what WORK_EXCEPTION carries) is what it was
// before the type existed: "panic: VALUE", a blank line, the stack.
func TestRecoveredPanicIsAPanicError(t *testing.T) {
	r := &registration{fn: func(context.Context, *Job) ([]byte, error) { panic("index out of patience") }}
	res, err := runJob(context.Background(), r, &Job{Function: "f", Handle: "H:1"})
	var pe *PanicError
	if !errors.As(fmt.Errorf("wrapped: %w", err), &pe) {
		t.Fatalf("runJob of a panicking job: %v (%T), want a *PanicError", err, err)
	}
	if res != nil || pe.Value != "index out of patience" || !bytes.Contains(pe.Stack, []byte("job_test.go")) {
		t.Fatalf("got result %q, PanicError{Value: %v, Stack: %d bytes}; want no result, the value and a stack naming job_test.go",
			res, pe.Value, len(pe.Stack))
	}
	if want := fmt.Sprintf("panic: %v\n\n%s", pe.Value, pe.Stack); err.Error() != want {
		t.Fatalf("wire text changed:\n%s\nwant:\n%s", err, want)
	}
}
