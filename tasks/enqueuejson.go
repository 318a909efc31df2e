package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/glimpse-go/glimpse/internal/wire"
)

// Errors of EnqueueJSON's item; each comes wrapped in an *EnqueueError
// whose Field names the item's field that was wrong ("" for the whole
// item).
var (
	ErrBadJSON      = errors.New("item is not valid JSON")
	ErrItemMismatch = errors.New("item does not fit the function's argument type")
	ErrNotJSONable  = errors.New("function takes no JSON items")
)

// jsonPayloader is a registered function that encodes JSON items
// (pool.Register's functions are).
type jsonPayloader interface {
	TaskPayloadJSON(item []byte) ([]byte, error)
}

// EnqueueJSON is Enqueue for a function known by its registered name
// only, with its item as JSON (null or empty: the zero value): the JSON
// is decoded into the function's In type (fields In lacks are refused)
// and stored as Enqueue stores a typed item. The periodic scheduler and
// the HTTP gateway enqueue with it. Besides Enqueue's errors: a name not
// registered in this process gives ErrUnknownFunction; JSON that does not
// parse gives ErrBadJSON; a value of the wrong type, or a field In does
// not have, gives ErrItemMismatch with EnqueueError.Field naming the
// field (dotted path from the item, "" for the item itself); each in an
// *EnqueueError, and nothing is written.
func EnqueueJSON(ctx context.Context, c *Client, name string, item json.RawMessage, opts ...EnqueueOption) (ID, error) {
	if err := checkRegistered(name); err != nil {
		return "", err
	}
	f, _ := wire.Lookup(name)
	jp, ok := f.(jsonPayloader)
	if !ok {
		return "", &EnqueueError{Func: name, Err: ErrNotJSONable, Detail: fmt.Sprintf("%T is not made by pool.Register", f)}
	}
	payload, err := jp.TaskPayloadJSON(item)
	if err != nil {
		return "", jsonItemError(name, err)
	}
	r, err := c.newRow(name, payload, opts)
	if err != nil {
		return "", err
	}
	return c.add(ctx, r)
}

// jsonItemError turns encoding/json's error into an *EnqueueError naming
// the field.
func jsonItemError(name string, err error) *EnqueueError {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typ):
		return &EnqueueError{Func: name, Err: ErrItemMismatch, Field: typ.Field,
			Detail: fmt.Sprintf("%s: JSON %s where %s is wanted", fieldOrItem(typ.Field), typ.Value, typ.Type)}
	case errors.As(err, &syntax):
		return &EnqueueError{Func: name, Err: ErrBadJSON, Detail: fmt.Sprintf("at byte %d: %v", syntax.Offset, err)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &EnqueueError{Func: name, Err: ErrItemMismatch, Field: field,
			Detail: fmt.Sprintf("%s: no such field in the function's argument type", field)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &EnqueueError{Func: name, Err: ErrBadJSON, Detail: "unexpected end of the JSON"}
	}
	return &EnqueueError{Func: name, Err: ErrItemMismatch, Detail: err.Error()}
}

func fieldOrItem(field string) string {
	if field == "" {
		return "the item"
	}
	return "field " + field
}
