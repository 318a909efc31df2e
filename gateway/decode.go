package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
)

// decodeItem reads one JSON value into v (unknown object fields refused),
// naming the field and the JSON kinds when the value does not fit.
func decodeItem(data []byte, v any, index int) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return itemError(err, index)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &ItemError{Index: index, Err: errors.New("more than one JSON value")}
	}
	return nil
}

// itemError turns a decoding error into an *ItemError.
func itemError(err error, index int) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return &ItemError{Index: index, Field: te.Field, Err: fmt.Errorf("want %s, got %s", jsonKind(te.Type), te.Value)}
	case errors.As(err, &se):
		return &ItemError{Index: index, Err: fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, err)}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &ItemError{Index: index, Err: errors.New("the JSON ends early")}
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &ItemError{Index: index, Field: strings.Trim(f, `"`), Err: errors.New("unknown field")}
	}
	if mbe := new(http.MaxBytesError); errors.As(err, &mbe) {
		return err // 413, not the item's fault
	}
	return &ItemError{Index: index, Err: err}
}

// jsonKind names what JSON value fits t.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "integer (" + t.Kind().String() + ")"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "non-negative integer (" + t.Kind().String() + ")"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "string (base64)"
		}
		return "array"
	case reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return t.String()
}
