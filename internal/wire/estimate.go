package wire

import (
	"encoding"
	"reflect"
	"strings"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// What decoding a message allocates, estimated from the message and the
// Go type it decodes into, before it is decoded. The functions here read
// only messages that walkMsgpack accepted: every length fits and nesting
// is bounded, so they need no checks of their own and may recurse.

type mpKind uint8

const (
	mpScalar mpKind = iota // nil, bool, number: n is its payload after the code
	mpStr                  // n bytes
	mpBin                  // n bytes
	mpExt                  // n bytes, the type byte included
	mpArray                // n values
	mpMap                  // n pairs
)

// head reads the header of the value at pos: its kind, its length and
// where its body starts.
func head(data []byte, pos int) (k mpKind, n int, body int) {
	c := data[pos]
	pos++
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return mpScalar, 0, pos
	case c >= 0x80 && c <= 0x8f:
		return mpMap, int(c & 0x0f), pos
	case c >= 0x90 && c <= 0x9f:
		return mpArray, int(c & 0x0f), pos
	case c >= 0xa0 && c <= 0xbf:
		return mpStr, int(c & 0x1f), pos
	case c == 0xc4 || c == 0xc5 || c == 0xc6: // bin8, 16, 32
		size := 1 << (c - 0xc4)
		return mpBin, bigEndian(data[pos : pos+size]), pos + size
	case c == 0xd9 || c == 0xda || c == 0xdb: // str8, 16, 32
		size := 1 << (c - 0xd9)
		return mpStr, bigEndian(data[pos : pos+size]), pos + size
	case c >= 0xc7 && c <= 0xc9: // ext8, 16, 32
		size := 1 << (c - 0xc7)
		return mpExt, bigEndian(data[pos:pos+size]) + 1, pos + size
	case c >= 0xd4 && c <= 0xd8: // fixext
		return mpExt, 1 + 1<<(c-0xd4), pos
	case c == 0xdc || c == 0xdd:
		size := 2 << (c - 0xdc)
		return mpArray, bigEndian(data[pos : pos+size]), pos + size
	case c == 0xde || c == 0xdf:
		size := 2 << (c - 0xde)
		return mpMap, bigEndian(data[pos : pos+size]), pos + size
	case c == 0xcc || c == 0xd0:
		return mpScalar, 1, pos
	case c == 0xcd || c == 0xd1:
		return mpScalar, 2, pos
	case c == 0xca || c == 0xce || c == 0xd2:
		return mpScalar, 4, pos
	default: // 0xcb, 0xcf, 0xd3: 64-bit numbers
		return mpScalar, 8, pos
	}
}

func bigEndian(b []byte) int {
	v := 0
	for _, c := range b {
		v = v<<8 | int(c)
	}
	return v
}

// skipValue returns where the value at pos ends.
func skipValue(data []byte, pos int) int {
	for left := 1; left > 0; left-- {
		k, n, body := head(data, pos)
		switch k {
		case mpArray:
			left += n
			pos = body
		case mpMap:
			left += 2 * n
			pos = body
		default:
			pos = body + n
		}
	}
	return pos
}

var (
	anyType             = reflect.TypeFor[any]()
	stringType          = reflect.TypeFor[string]()
	customDecoder       = reflect.TypeFor[msgpack.CustomDecoder]()
	unmarshaler         = reflect.TypeFor[msgpack.Unmarshaler]()
	binaryUnmarshaler   = reflect.TypeFor[encoding.BinaryUnmarshaler]()
	textUnmarshaler     = reflect.TypeFor[encoding.TextUnmarshaler]()
	interfaceHeaderSize = uint64(anyType.Size())
)

// estimate returns where the value at pos ends and about how many bytes
// decoding it into a value of type t allocates, beyond t's own size
// (which its container holds). A nil t only skips the value.
func estimate(t reflect.Type, data []byte, pos int) (next int, cost uint64) {
	k, n, body := head(data, pos)
	if k == mpScalar && data[pos] == 0xc0 { // nil allocates nothing
		return body, 0
	}
	for t != nil && t.Kind() == reflect.Pointer {
		cost += uint64(t.Elem().Size())
		t = t.Elem()
	}
	if t != nil && decodesItself(t) {
		t = anyType // its own decoder: assume the costliest plain shape
	}
	var c uint64
	switch {
	case k == mpArray:
		next, c = estimateArray(t, data, n, body)
	case k == mpMap:
		next, c = estimateMap(t, data, n, body)
	case t == nil:
		return body + n, 0
	case k == mpScalar:
		next, c = body+n, boxed(t, 8)
	default: // str, bin, ext: their bytes, copied out of the message
		next, c = body+n, uint64(n)+boxed(t, interfaceHeaderSize)
	}
	return next, cost + c
}

// boxed is what a value of size costs when it lands in an interface (or
// behind a pointer), where it has a heap cell of its own.
func boxed(t reflect.Type, size uint64) uint64 {
	if t.Kind() == reflect.Interface {
		return size
	}
	return 0
}

var selfDecoding sync.Map // reflect.Type -> bool

// decodesItself reports whether msgpack decodes t with t's own method.
func decodesItself(t reflect.Type) bool {
	if v, ok := selfDecoding.Load(t); ok {
		return v.(bool)
	}
	p := reflect.PointerTo(t)
	self := false
	for _, i := range []reflect.Type{customDecoder, unmarshaler, binaryUnmarshaler, textUnmarshaler} {
		self = self || t.Implements(i) || p.Implements(i)
	}
	selfDecoding.Store(t, self)
	return self
}

// flat reports whether values of t allocate nothing when decoded: numbers
// and bools that decode the plain way.
func flat(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return !decodesItself(t)
	}
	return false
}

// estimateArray: n values decoded into t (a slice, array, struct as an
// array, pointer or interface).
func estimateArray(t reflect.Type, data []byte, n, pos int) (int, uint64) {
	var cost uint64
	elemOf := func(int) reflect.Type { return nil }
	if t != nil {
		switch t.Kind() {
		case reflect.Slice:
			cost += sliceCost(n, t.Elem())
			elem := t.Elem()
			if flat(elem) { // numbers and bools live in the array
				for range n { // the walk checked every length already
					if k := fixedSize[data[pos]]; k != 0 {
						pos += int(k)
					} else {
						pos = skipValue(data, pos)
					}
				}
				return pos, cost
			}
			elemOf = func(int) reflect.Type { return elem }
		case reflect.Array:
			elem := t.Elem()
			elemOf = func(int) reflect.Type { return elem }
		case reflect.Interface: // []any
			cost += interfaceHeaderSize + 24 + sliceCost(n, anyType)
			elemOf = func(int) reflect.Type { return anyType }
		case reflect.Struct:
			fields := fieldsOf(t)
			elemOf = func(i int) reflect.Type {
				if i < len(fields.byIndex) {
					return fields.byIndex[i]
				}
				return anyType
			}
		}
	}
	for i := range n {
		next, c := estimate(elemOf(i), data, pos)
		pos, cost = next, cost+c
	}
	return pos, cost
}

// sliceCost is what msgpack/v5 allocates for a slice of n elems: twice
// the array (it makes one of n, then appends it to the empty slice),
// except for []string, which it fills in place.
func sliceCost(n int, elem reflect.Type) uint64 {
	size := uint64(n) * uint64(elem.Size())
	if elem == stringType {
		return size
	}
	return 2 * size
}

// estimateMap: n pairs decoded into t (a map, struct, pointer or
// interface).
func estimateMap(t reflect.Type, data []byte, n, pos int) (int, uint64) {
	var cost uint64
	key := func() reflect.Type { return nil }
	val := func(name string) reflect.Type { return nil }
	if t != nil {
		switch t.Kind() {
		case reflect.Map:
			cost += mapCost(n, t.Key().Size(), t.Elem().Size())
			kt, vt := t.Key(), t.Elem()
			key = func() reflect.Type { return kt }
			val = func(string) reflect.Type { return vt }
		case reflect.Interface: // map[string]any
			cost += mapCost(n, stringType.Size(), anyType.Size())
			key = func() reflect.Type { return stringType }
			val = func(string) reflect.Type { return anyType }
		case reflect.Struct:
			fields := fieldsOf(t)
			key = func() reflect.Type { return stringType }
			val = func(name string) reflect.Type {
				if f, ok := fields.byName[name]; ok {
					return f
				}
				return anyType
			}
		}
	}
	for range n {
		kt := key()
		name := ""
		if k, l, body := head(data, pos); k == mpStr {
			name = string(data[body : body+l])
		}
		next, c := estimate(kt, data, pos)
		pos, cost = next, cost+c
		next, c = estimate(val(name), data, pos)
		pos, cost = next, cost+c
	}
	return pos, cost
}

// mapCost is about what a Go map of n entries allocates: its header and
// groups of 8 slots, filled at most 7/8.
func mapCost(n int, key, val uintptr) uint64 {
	slots := uint64(8)
	for slots*7/8 < uint64(n) {
		slots *= 2
	}
	return 48 + slots*(uint64(key)+uint64(val)+1)
}

// structFields are the types of a struct's fields as msgpack decodes
// them: by name from a map, by position from an array.
type structFields struct {
	byName  map[string]reflect.Type
	byIndex []reflect.Type
}

var structCache sync.Map // reflect.Type -> *structFields

func fieldsOf(t reflect.Type) *structFields {
	if f, ok := structCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{byName: map[string]reflect.Type{}}
	f.add(t)
	structCache.Store(t, f)
	return f
}

// add adds t's fields, following msgpack/v5's tags: `msgpack:"name"`,
// "-" to skip, embedded structs inlined unless named.
func (f *structFields) add(t reflect.Type) {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("msgpack")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || sf.Name == "_msgpack" {
			continue
		}
		ft := sf.Type
		if sf.Anonymous && name == "" {
			if et := derefType(ft); et.Kind() == reflect.Struct {
				f.add(et)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		f.byName[name] = ft
		f.byIndex = append(f.byIndex, ft)
	}
}

func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}
