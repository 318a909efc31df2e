package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/glimpse-go/glimpse/pool"
)

// Errors a Tasks implementation wraps (fmt.Errorf("%w: ...", ...)) so
// that the gateway answers with the right status.
var (
	// ErrNotFound: no such task (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the task cannot change that way now, e.g. cancel a
	// running task (409).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the task service refused the request's values (400).
	ErrInvalid = errors.New("invalid request")
	// ErrNoTasks answers the task routes of a gateway given no Tasks
	// (503).
	ErrNoTasks = errors.New("task service not configured")
	// ErrMediaType: a body of a Content-Type the route does not read (415).
	ErrMediaType = errors.New("unsupported Content-Type")
	// ErrUnavailable: the task service could not do it now (its store
	// failed, or it is closing), and did not: retry later (503, with
	// Retry-After).
	ErrUnavailable = errors.New("task service unavailable")
)

// ItemError is a request item that does not fit the function's In type,
// or a field of a task that is wrong: it answers 400 naming the item's
// index (-1: not an item of an array) and the field ("" for the whole
// item).
type ItemError struct {
	Index int
	Field string
	Err   error
}

func (e *ItemError) Error() string {
	msg := ""
	if e.Index >= 0 {
		msg = "item " + strconv.Itoa(e.Index) + ": "
	}
	if e.Field != "" {
		msg += "field " + strconv.Quote(e.Field) + ": "
	}
	return msg + e.Err.Error()
}

func (e *ItemError) Unwrap() error { return e.Err }

// errorBody is every error answer: {"error": "..."} with the item index
// and the field when one is to blame.
type errorBody struct {
	Error string `json:"error"`
	Index *int   `json:"index,omitempty"`
	Field string `json:"field,omitempty"`
	Code  string `json:"code,omitempty"`
}

// writeError answers status with a JSON error.
func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, errorBodyOf(err))
}

// errorBodyOf is err as an answer: its text, and the item and field to
// blame when there is one.
func errorBodyOf(err error) errorBody {
	body := errorBody{Error: err.Error()}
	var ie *ItemError
	if errors.As(err, &ie) {
		if ie.Index >= 0 {
			body.Index = &ie.Index
		}
		body.Field = ie.Field
	}
	var te *pool.TaskError
	if errors.As(err, &te) {
		if te.Index >= 0 {
			body.Index = &te.Index
		}
		body.Code = te.Code
	}
	return body
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"error":"cannot encode the answer as JSON"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(data, '\n'))
}

// statusOf picks the HTTP status for err.
func statusOf(err error) int {
	var mbe *http.MaxBytesError
	var te *pool.TaskError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, new(*ItemError)), errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrMediaType):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, pool.ErrNoWorkers), errors.Is(err, ErrNoTasks), errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.As(err, &te):
		return http.StatusUnprocessableEntity // the function refused the item
	}
	return http.StatusInternalServerError
}

// fail answers err with its status; a 503 says when to retry.
func fail(w http.ResponseWriter, err error) {
	status := statusOf(err)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeError(w, status, err)
}

// errorf answers status with a formatted JSON error.
func errorf(w http.ResponseWriter, status int, format string, args ...any) {
	writeError(w, status, fmt.Errorf(format, args...))
}
