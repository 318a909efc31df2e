package webhook

import (
	"reflect"
	"slices"

	"github.com/vmihailenco/msgpack/v5"
)

// A Request is encoded in every task payload of Miyamoto's /queue, once
// per enqueue: msgpack's struct encoding found its empty fields through
// reflect.Value.Interface, two allocations a field. encodeRequest writes
// the same msgpack by hand. It is registered for the type, not a method
// of it, so that pool's shape of Request (and so the payloads already
// stored, and workers of the version before) stays as it was; decoding is
// msgpack's own. The registration is for every msgpack encoder: one set
// to another struct tag or to array-encoded structs (nothing here is)
// gets this map all the same.
func init() { msgpack.Register(Request{}, encodeRequest, nil) }

// encodeRequest writes r as msgpack's struct encoding does: a map of the
// fields by their msgpack names in the struct's order, the omitempty ones
// left out when empty. Params' keys go in sorted order (msgpack's own
// order is the map's, which varies).
func encodeRequest(e *msgpack.Encoder, v reflect.Value) error {
	var r *Request
	if v.CanAddr() {
		r = v.Addr().Interface().(*Request)
	} else {
		c := v.Interface().(Request)
		r = &c
	}
	w := fieldWriter{e: e}
	w.mapLen(r)
	w.str("url", r.URL)
	w.optStr("method", r.Method)
	if len(r.Params) > 0 {
		w.key("params")
		w.params(r.Params)
	}
	w.optStr("encoding", string(r.Encoding))
	if len(r.JSON) > 0 {
		w.key("json")
		w.do(e.EncodeBytes(r.JSON))
	}
	w.optStr("task_id", r.TaskID)
	w.optStr("queue", r.Queue)
	if r.Attempt != 0 {
		w.key("attempt")
		w.do(e.EncodeInt(int64(r.Attempt)))
	}
	if r.Timeout != 0 {
		w.key("timeout")
		w.do(e.Encode(r.Timeout)) // as msgpack encodes an int64 kind, by the encoder's options
	}
	return w.err
}

// fieldWriter keeps the first error of an encoding.
type fieldWriter struct {
	e   *msgpack.Encoder
	err error
}

func (w *fieldWriter) do(err error) {
	if w.err == nil {
		w.err = err
	}
}

// mapLen writes the map header: url and the non-empty fields.
func (w *fieldWriter) mapLen(r *Request) {
	n := 1
	for _, set := range [...]bool{r.Method != "", len(r.Params) > 0, r.Encoding != "", len(r.JSON) > 0,
		r.TaskID != "", r.Queue != "", r.Attempt != 0, r.Timeout != 0} {
		if set {
			n++
		}
	}
	w.do(w.e.EncodeMapLen(n))
}

func (w *fieldWriter) key(name string) { w.do(w.e.EncodeString(name)) }

func (w *fieldWriter) str(name, value string) {
	w.key(name)
	w.do(w.e.EncodeString(value))
}

func (w *fieldWriter) optStr(name, value string) {
	if value != "" {
		w.str(name, value)
	}
}

// params writes a map[string][]string as msgpack does (a nil list is
// nil), its keys sorted.
func (w *fieldWriter) params(p map[string][]string) {
	w.do(w.e.EncodeMapLen(len(p)))
	for _, k := range sortedKeys(p) {
		w.key(k)
		vs := p[k]
		if vs == nil {
			w.do(w.e.EncodeNil())
			continue
		}
		w.do(w.e.EncodeArrayLen(len(vs)))
		for _, s := range vs {
			w.do(w.e.EncodeString(s))
		}
	}
}

// sortedKeys is p's keys in order; one key (a form with one param) is
// not worth a sort.
func sortedKeys(p map[string][]string) []string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	if len(keys) > 1 {
		slices.Sort(keys)
	}
	return keys
}
