package pool

import (
	"github.com/glimpse-go/glimpse/internal/wire"
	"strconv"
	"strings"
)

// TaskError is a failure of the function on one item: its error, its
// panic (with the worker's stack) or its deadline.
type TaskError struct {
	Func    string // registered function name
	Index   int    // the item's index in the map's input; -1 if no item is to blame
	Worker  string // id of the worker process that ran it
	Message string // the error's text, or the panic value
	Stack   string // the worker goroutine's stack, for a panic
	Panic   bool
	Timeout bool // the item ran over TaskTimeout
	// Code names the declared error (RegisterError) that the function's
	// error is, or wraps; errors.Is(err, thatError) holds through the
	// *TaskError in a program that declares it too.
	Code string
	// Mismatch is set when the worker refused the chunk, before running
	// any item, because it registers the function with other types.
	Mismatch *TypeMismatchError
	// Limit names the worker's limit (its [worker] key) that failed the
	// chunk: max_chunk_bytes, max_chunk_items or max_expansion (refused
	// before it ran), chunk_time_limit (stopped), crash_loop_limit (it
	// killed that many worker processes); "" for any other failure.
	Limit string
}

func (e *TaskError) Error() string {
	var b strings.Builder
	b.WriteString("pool: ")
	b.WriteString(e.Func)
	if e.Index >= 0 {
		b.WriteString(" item ")
		b.WriteString(strconv.Itoa(e.Index))
	}
	switch {
	case e.Panic:
		b.WriteString(" panicked")
	case e.Timeout:
		b.WriteString(" timed out")
	default:
		b.WriteString(" failed")
	}
	if e.Worker != "" {
		b.WriteString(" on worker ")
		b.WriteString(e.Worker)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	if e.Stack != "" {
		b.WriteString("\n\nremote stack:\n")
		b.WriteString(e.Stack)
	}
	return b.String()
}

// Unwrap returns the declared error that Code names, if this program
// declares it, and the *TypeMismatchError, if any: errors.Is and errors.As
// find them through the *TaskError.
func (e *TaskError) Unwrap() []error {
	var errs []error
	if err := declaredError(e.Code); err != nil {
		errs = append(errs, err)
	}
	if e.Mismatch != nil {
		errs = append(errs, e.Mismatch)
	}
	return errs
}

func (e *TaskError) marshal() []byte {
	data, err := wire.Encode(e)
	if err != nil { // cannot happen for strings and ints; keep the text
		return append([]byte{0}, e.Message...)
	}
	return data
}

// parseTaskError reads a WORK_EXCEPTION's data. A worker that is not a
// glimpse worker sends plain text: it becomes the Message.
func parseTaskError(fn string, data []byte) *TaskError {
	var te TaskError
	if err := wire.Decode(data, &te); err != nil {
		return &TaskError{Func: fn, Index: -1, Message: string(data)}
	}
	return &te
}
