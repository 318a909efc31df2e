package webhook

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/glimpse-go/glimpse/pool"
)

// permanentError is a declared error that no retry can cure.
type permanentError string

func (e permanentError) Error() string { return string(e) }

// Permanent reports that retrying is of no use: the task service fails
// the task at once instead of retrying it with backoff.
func (e permanentError) Permanent() bool { return true }

// The declared errors of a delivery. They keep their identity across the
// wire (pool.RegisterError), so errors.Is holds on what a client of a
// worker process gets back.
var (
	// ErrGone is a receiver that answered 410 Gone: it wants no more
	// calls. Permanent.
	ErrGone = pool.RegisterError("glimpse.webhook.gone", permanentError("webhook: the receiver answered 410 Gone"))
	// ErrInvalid is a Request that can never be sent (a bad URL, method,
	// encoding or timeout): see *RequestError for the field. Permanent.
	ErrInvalid = pool.RegisterError("glimpse.webhook.invalid", permanentError("webhook: invalid request"))
	// ErrStatus is a receiver that answered a status other than 2xx and
	// 410 (see *StatusError). Retryable.
	ErrStatus = pool.RegisterError("glimpse.webhook.status", errors.New("webhook: the receiver did not answer 2xx"))
	// ErrTimeout is a receiver that did not answer within the request's
	// timeout. Retryable.
	ErrTimeout = pool.RegisterError("glimpse.webhook.timeout", errors.New("webhook: no answer within the timeout"))
)

// IsPermanent reports whether err, or an error it wraps, has a
// Permanent() bool method that returns true: a task that failed with it
// is not retried. The tasks service honours the same interface for any
// registered function's errors.
func IsPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// RequestError is a Request that cannot be sent; it names the field.
// errors.Is(err, ErrInvalid) holds for it.
type RequestError struct {
	Field  string // the Request field: "URL", "Method", "Encoding", "JSON", "Timeout"
	Value  string // what it held (a URL without its password)
	Reason string
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("webhook: Request.%s %q: %s", e.Field, e.Value, e.Reason)
}

func (e *RequestError) Unwrap() error { return ErrInvalid }

// Permanent reports true: a request that cannot be sent never will be.
func (e *RequestError) Permanent() bool { return true }

// StatusError is a receiver's answer other than 2xx. It unwraps to
// ErrGone for 410 Gone, else to ErrStatus.
type StatusError struct {
	Method, URL string // the request (the URL without its password)
	Status      int    // the HTTP status code
	Body        string // the start of the answer's body, at most 512 bytes
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("webhook: %s %s: the receiver answered %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

func (e *StatusError) Unwrap() error {
	if e.Status == http.StatusGone {
		return ErrGone
	}
	return ErrStatus
}

// Permanent reports true for 410 Gone only.
func (e *StatusError) Permanent() bool { return e.Status == http.StatusGone }
