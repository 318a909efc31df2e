package pool

import (
	"fmt"
)

// TypeMismatchError is a chunk a worker refused because it registers the
// function with other In or Out types than the client: the worker binary
// was built against another version of the package of functions. It comes
// inside a *TaskError (errors.As finds it) and nothing ran.
type TypeMismatchError struct {
	Func                string // registered function name
	ClientIn, ClientOut string // the client's shapes (see Func.Shapes)
	WorkerIn, WorkerOut string // the worker's
}

func (e *TypeMismatchError) Error() string {
	return fmt.Sprintf("type mismatch: the client sends In=%s and expects Out=%s; this worker registers In=%s Out=%s",
		orUnknown(e.ClientIn), orUnknown(e.ClientOut), orUnknown(e.WorkerIn), orUnknown(e.WorkerOut))
}

func orUnknown(shape string) string {
	if shape == "" {
		return "(none given)"
	}
	return shape
}
