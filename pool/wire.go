package pool

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// wireVersion is the first byte of every chunk payload, result and error.
// A peer that sees another version refuses the message instead of
// misreading it. Payloads are msgpack data only: a worker runs nothing
// but the functions compiled into it, so a job can never carry code.
const wireVersion = 1

// chunkRequest is the payload of one chunk job.
type chunkRequest[In any] struct {
	_msgpack    struct{} `msgpack:",as_array"`
	Start       int      // input index of Items[0]
	TaskTimeout int64    // per-item deadline in nanoseconds; 0: none
	Items       []In
}

// chunkResult is the WORK_COMPLETE data of a chunk job.
type chunkResult[Out any] struct {
	_msgpack struct{} `msgpack:",as_array"`
	Items    []Out
}

var encoders = sync.Pool{New: func() any {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	return &encoder{buf: &buf, enc: enc}
}}

type encoder struct {
	buf *bytes.Buffer
	enc *msgpack.Encoder
}

func encode(v any) ([]byte, error) {
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	e.buf.Reset()
	e.buf.WriteByte(wireVersion)
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.Clone(e.buf.Bytes()), nil
}

var decoders = sync.Pool{New: func() any { return msgpack.NewDecoder(nil) }}

func decode(data []byte, v any) error {
	if len(data) == 0 {
		return errors.New("empty message")
	}
	if data[0] != wireVersion {
		return fmt.Errorf("message version %d, this program speaks version %d", data[0], wireVersion)
	}
	dec := decoders.Get().(*msgpack.Decoder)
	defer decoders.Put(dec)
	// A first pass that only walks the message: msgpack/v5 sizes a slice
	// from the length its header claims, so a hostile header could make
	// the worker allocate gigabytes. Walking allocates nothing and fails on
	// a length the message does not hold.
	r := bytes.NewReader(data[1:])
	dec.Reset(r)
	if err := dec.Skip(); err != nil {
		return fmt.Errorf("malformed message: %w", err)
	}
	if r.Len() != 0 {
		return fmt.Errorf("malformed message: %d bytes after its end", r.Len())
	}
	r.Reset(data[1:])
	dec.Reset(r)
	return dec.Decode(v)
}

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

func (e *TaskError) marshal() []byte {
	data, err := encode(e)
	if err != nil { // cannot happen for strings and ints; keep the text
		return append([]byte{0}, e.Message...)
	}
	return data
}

// parseTaskError reads a WORK_EXCEPTION's data. A worker that is not a
// glimpse worker sends plain text: it becomes the Message.
func parseTaskError(fn string, data []byte) *TaskError {
	var te TaskError
	if err := decode(data, &te); err != nil {
		return &TaskError{Func: fn, Index: -1, Message: string(data)}
	}
	return &te
}
