package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
)

// maxLine bounds one NDJSON line (an item); the body limit bounds them all.
const maxLine = 16 << 20

// itemReader reads a map's items from a body, one at a time: a JSON
// array, or NDJSON lines.
type itemReader struct {
	f      function
	ndjson bool
	dec    *json.Decoder  // array
	lines  *bufio.Scanner // NDJSON
	n      int            // items read
	opened bool           // the array's '[' was read
	err    error          // why reading stopped early
}

func newItemReader(body io.Reader, f function, ndjson bool) *itemReader {
	ir := &itemReader{f: f, ndjson: ndjson}
	if ndjson {
		ir.lines = bufio.NewScanner(body)
		ir.lines.Buffer(make([]byte, 0, 64<<10), maxLine)
	} else {
		ir.dec = json.NewDecoder(body)
	}
	return ir
}

// next returns the next item; ok is false at the end or on an error
// (then in ir.err).
func (ir *itemReader) next() (item any, ok bool) {
	raw, ok := ir.nextRaw()
	if !ok {
		return nil, false
	}
	item, err := ir.f.decode(raw, ir.n)
	if err != nil {
		ir.err = err
		return nil, false
	}
	ir.n++
	return item, true
}

func (ir *itemReader) nextRaw() ([]byte, bool) {
	if ir.err != nil {
		return nil, false
	}
	if ir.ndjson {
		return ir.nextLine()
	}
	if !ir.opened {
		if err := ir.openArray(); err != nil {
			ir.err = err
			return nil, false
		}
	}
	if !ir.dec.More() {
		ir.err = ir.closeArray()
		return nil, false
	}
	var raw json.RawMessage
	if err := ir.dec.Decode(&raw); err != nil {
		ir.err = readError(err, ir.n)
		return nil, false
	}
	return raw, true
}

func (ir *itemReader) nextLine() ([]byte, bool) {
	for ir.lines.Scan() {
		if line := bytes.TrimSpace(ir.lines.Bytes()); len(line) > 0 {
			return line, true
		}
	}
	if err := ir.lines.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("a line over %d bytes", maxLine)
		}
		ir.err = readError(err, ir.n)
	}
	return nil, false
}

func (ir *itemReader) openArray() error {
	ir.opened = true
	tok, err := ir.dec.Token()
	if err != nil {
		return readError(err, -1)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return &ItemError{Index: -1, Err: fmt.Errorf("want a JSON array of items, got %v (or send %s, one item a line)", describe(tok), ndjson)}
	}
	return nil
}

// closeArray reads the array's ']' and checks nothing follows.
func (ir *itemReader) closeArray() error {
	if _, err := ir.dec.Token(); err != nil {
		return readError(err, -1)
	}
	if _, err := ir.dec.Token(); err != io.EOF {
		return &ItemError{Index: -1, Err: errors.New("more than one JSON value in the body")}
	}
	return nil
}

// readError names the item where the body's JSON broke.
func readError(err error, index int) error {
	if mbe := new(http.MaxBytesError); errors.As(err, &mbe) {
		return bodyError(err)
	}
	return itemError(err, index)
}

func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		return string(v)
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	}
	return "a number"
}

// readAll reads every item.
func (ir *itemReader) readAll() ([]any, error) {
	var items []any
	for {
		item, ok := ir.next()
		if !ok {
			return items, ir.err
		}
		items = append(items, item)
	}
}

// seq yields the items until the end or an error (then in ir.err).
func (ir *itemReader) seq() iter.Seq[any] {
	return func(yield func(any) bool) {
		for {
			item, ok := ir.next()
			if !ok || !yield(item) {
				return
			}
		}
	}
}
