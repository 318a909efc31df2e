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
//
// Version 2 added the type shapes to chunks. A client and its workers
// ship together (they import the same package of functions), so a peer
// of version 1 is refused with "message version 1, this program speaks
// version 2" rather than served without the type check.
const wireVersion = 2

// chunkRequest is the payload of one chunk job.
type chunkRequest[In any] = chunkMessage[[]In]

// chunkMessage is a chunk with its items as Items: a client sends []In; a
// worker decodes checkedItems, which decode only if the shapes are its own.
type chunkMessage[Items any] struct {
	_msgpack    struct{} `msgpack:",as_array"`
	Start       int      // input index of Items[0]
	TaskTimeout int64    // per-item deadline in nanoseconds; 0: none
	// The client's In and Out shapes (wireShape). They come before the
	// items so that a worker whose function has other shapes refuses the
	// chunk before it decodes a single item.
	InType, OutType string
	Items           Items
}

// A worker that starts a chunk tells the client so, in a WORK_DATA of
// ChunkStarted: gearmand hands the chunk of a worker that died to the next
// worker without telling the client, and these notices let the client
// count how many workers a chunk has gone through.
const startedKind = 'S'

// ChunkStarted is the WORK_DATA payload a worker sends when it starts a
// chunk, naming itself. Worker runtimes that send it let maps stop a chunk
// that kills every worker it goes to (see Retries).
func ChunkStarted(worker string) []byte {
	return append([]byte{wireVersion, startedKind}, worker...)
}

// parseChunkStarted returns the worker a ChunkStarted notice names.
func parseChunkStarted(data []byte) (worker string, ok bool) {
	if len(data) < 2 || data[0] != wireVersion || data[1] != startedKind {
		return "", false
	}
	return string(data[2:]), true
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
	// A first pass that only walks the message: msgpack/v5 sizes a slice
	// from the length its header claims, and recurses once per level of
	// nesting, so a hostile header could make the worker allocate
	// gigabytes, and ten million nested arrays overflow its stack (a fatal
	// error, not a panic). The walk allocates next to nothing and fails on
	// a length the message does not hold or on nesting too deep.
	if err := walkMsgpack(data[1:]); err != nil {
		return fmt.Errorf("malformed message: %w", err)
	}
	dec := decoders.Get().(*msgpack.Decoder)
	defer decoders.Put(dec)
	dec.Reset(bytes.NewReader(data[1:]))
	return dec.Decode(v)
}

// maxNesting bounds how deep arrays and maps nest in a message (as
// encoding/json does): far deeper than any data, far shallower than what
// overflows a goroutine's stack.
const maxNesting = 10000

// walkMsgpack checks that data is exactly one msgpack value whose lengths
// fit in data and whose containers nest at most maxNesting deep. It keeps
// its own stack, so nesting costs no recursion.
func walkMsgpack(data []byte) error {
	var open []uint64 // per open container: values still to come
	pos := 0
	need := func(n uint64) ([]byte, error) {
		if n > uint64(len(data)-pos) {
			return nil, fmt.Errorf("at byte %d: a %d-byte field runs past the %d-byte message", pos, n, len(data))
		}
		b := data[pos : pos+int(n)]
		pos += int(n)
		return b, nil
	}
	length := func(size int) (uint64, error) {
		b, err := need(uint64(size))
		if err != nil {
			return 0, err
		}
		var n uint64
		for _, c := range b {
			n = n<<8 | uint64(c)
		}
		return n, nil
	}
	for {
		if pos == len(data) {
			return fmt.Errorf("message ends inside a value at byte %d", pos)
		}
		at := pos
		c := data[pos]
		pos++
		var skip, values uint64 // bytes of payload; values of a container
		container := false
		var err error
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3: // fixints, nil, bools
		case c >= 0x80 && c <= 0x8f:
			values, container = 2*uint64(c&0x0f), true
		case c >= 0x90 && c <= 0x9f:
			values, container = uint64(c&0x0f), true
		case c >= 0xa0 && c <= 0xbf:
			skip = uint64(c & 0x1f)
		case c == 0xc4 || c == 0xd9: // bin8, str8
			skip, err = length(1)
		case c == 0xc5 || c == 0xda: // bin16, str16
			skip, err = length(2)
		case c == 0xc6 || c == 0xdb: // bin32, str32
			skip, err = length(4)
		case c >= 0xc7 && c <= 0xc9: // ext8, ext16, ext32: length, then a type byte
			skip, err = length(1 << (c - 0xc7))
			skip++
		case c == 0xca || c == 0xce || c == 0xd2: // 32-bit numbers
			skip = 4
		case c == 0xcb || c == 0xcf || c == 0xd3: // 64-bit numbers
			skip = 8
		case c == 0xcc || c == 0xd0:
			skip = 1
		case c == 0xcd || c == 0xd1:
			skip = 2
		case c >= 0xd4 && c <= 0xd8: // fixext 1, 2, 4, 8, 16, after a type byte
			skip = 1 + 1<<(c-0xd4)
		case c == 0xdc || c == 0xdd: // array16, array32
			values, err = length(2 << (c - 0xdc))
			container = true
		case c == 0xde || c == 0xdf: // map16, map32
			values, err = length(2 << (c - 0xde))
			values *= 2
			container = true
		default: // 0xc1 is never used
			return fmt.Errorf("at byte %d: unknown msgpack code %#x", at, c)
		}
		if err != nil {
			return err
		}
		if _, err := need(skip); err != nil {
			return err
		}
		if container && values > 0 {
			// Every value takes at least a byte: a count the rest of the
			// message cannot hold is a lie, refused before it is used.
			if values > uint64(len(data)-pos) {
				return fmt.Errorf("at byte %d: a container of %d values in the %d bytes left", at, values, len(data)-pos)
			}
			if len(open) == maxNesting {
				return fmt.Errorf("at byte %d: nested deeper than %d levels", at, maxNesting)
			}
			open = append(open, values)
			continue
		}
		// A value ended: it may end the containers it completes.
		for len(open) > 0 {
			open[len(open)-1]--
			if open[len(open)-1] > 0 {
				break
			}
			open = open[:len(open)-1]
		}
		if len(open) == 0 {
			if pos != len(data) {
				return fmt.Errorf("%d bytes after its end", len(data)-pos)
			}
			return nil
		}
	}
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
	// Code names the declared error (RegisterError) that the function's
	// error is, or wraps; errors.Is(err, thatError) holds through the
	// *TaskError in a program that declares it too.
	Code string
	// Mismatch is set when the worker refused the chunk, before running
	// any item, because it registers the function with other types.
	Mismatch *TypeMismatchError
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
