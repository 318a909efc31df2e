package direct

import "fmt"

// UnreachableError is a Ref whose address could not be dialled, or whose
// connection broke before the payload was in.
type UnreachableError struct {
	Addr string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("direct: cannot fetch the payload from %s: %v", e.Addr, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }
