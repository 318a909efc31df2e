package pool

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// A shape is the canonical text of a type as msgpack sees it: what a
// client and a worker must agree on for an item to travel whole. Kinds,
// not type names (type Celsius float64 is "float64"); struct fields by
// their msgpack names, sorted, since a struct travels as a map
// (struct{Hi int64; Lo int64}), or in order without names for as_array
// structs (struct,as_array{int64; int64}); pointers are their element;
// types that encode themselves (time.Time, msgpack.CustomEncoder,
// msgpack.Marshaler, encoding.BinaryMarshaler and TextMarshaler, msgpack
// extensions) are leaves named by their package path; "any" is the empty
// interface and "error" travels as its text; ^N refers back to the
// composite type N levels up, for recursive types.

// shapes are the In and Out shapes of a registered function, computed
// once at Register, and the forms a chunk carries.
type shapes struct {
	in, out         string // canonical
	wireIn, wireOut string // what a chunk carries: the shape, or its hash if long
}

// maxWireShape is the longest shape a chunk carries as text; a longer one
// travels as its hash, so a type of a thousand fields costs a chunk 17
// bytes, not kilobytes.
const maxWireShape = 256

// wireShape is the form of a shape that a chunk carries.
func wireShape(shape string) string {
	if len(shape) <= maxWireShape {
		return shape
	}
	sum := sha256.Sum256([]byte(shape))
	return "#" + hex.EncodeToString(sum[:8])
}

func newShapes(in, out reflect.Type) (*shapes, error) {
	inShape, err := shapeOf(in, "In")
	if err != nil {
		return nil, err
	}
	outShape, err := shapeOf(out, "Out")
	if err != nil {
		return nil, err
	}
	return &shapes{in: inShape, out: outShape, wireIn: wireShape(inShape), wireOut: wireShape(outShape)}, nil
}

// shapeError says why a registered function's In or Out type cannot travel
// in a chunk, and where in the type.
type shapeError struct {
	path string       // where: "In", "In.Jobs[].Done", "Out[key]"
	typ  reflect.Type // the type found there
	why  string
}

func (e *shapeError) Error() string {
	msg := fmt.Sprintf("%s (%v) cannot travel: %s", e.path, e.typ, e.why)
	if strings.Contains(e.path, ".") {
		msg += ` (the tag msgpack:"-" leaves a field out)`
	}
	return msg
}

// shapeOf renders t, or says why msgpack cannot carry it.
func shapeOf(t reflect.Type, path string) (string, error) {
	s := &shaper{}
	var b strings.Builder
	if err := s.write(&b, t, path); err != nil {
		return "", err
	}
	return b.String(), nil
}

// shaper renders a type; open holds the composite types being rendered,
// so that a recursive type refers back instead of looping.
type shaper struct {
	open     []reflect.Type
	inlining []reflect.Type // embedded structs being inlined
}

var (
	customEncoderType   = reflect.TypeFor[msgpack.CustomEncoder]()
	marshalerType       = reflect.TypeFor[msgpack.Marshaler]()
	binaryMarshalerType = reflect.TypeFor[encoding.BinaryMarshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
	errorType           = reflect.TypeFor[error]()
	timeType            = reflect.TypeFor[time.Time]()
)

func (s *shaper) write(b *strings.Builder, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if selfEncoding(t) {
		b.WriteString(leafName(t))
		return nil
	}
	if i := slices.Index(s.open, t); i >= 0 {
		b.WriteString("^" + strconv.Itoa(len(s.open)-i))
		return nil
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		b.WriteString(t.Kind().String())
		return nil
	case reflect.Interface:
		return s.writeInterface(b, t, path)
	case reflect.Slice, reflect.Array, reflect.Map, reflect.Struct:
		s.open = append(s.open, t)
		defer func() { s.open = s.open[:len(s.open)-1] }()
		return s.writeComposite(b, t, path)
	}
	return &shapeError{path: path, typ: t, why: "msgpack cannot carry a " + t.Kind().String()}
}

func (s *shaper) writeInterface(b *strings.Builder, t reflect.Type, path string) error {
	switch {
	case t.NumMethod() == 0:
		b.WriteString("any") // decodes to generic values: map[string]any, []any, int8...
	case t == errorType:
		b.WriteString("error") // travels as its text
	default:
		return &shapeError{path: path, typ: t, why: "an interface with methods: msgpack decodes generic values, which do not implement it"}
	}
	return nil
}

func (s *shaper) writeComposite(b *strings.Builder, t reflect.Type, path string) error {
	switch t.Kind() {
	case reflect.Slice:
		b.WriteString("[]")
		return s.write(b, t.Elem(), path+"[]")
	case reflect.Array:
		b.WriteString("[" + strconv.Itoa(t.Len()) + "]")
		return s.write(b, t.Elem(), path+"[]")
	case reflect.Map:
		b.WriteString("map[")
		if err := s.write(b, t.Key(), path+"[key]"); err != nil {
			return err
		}
		b.WriteString("]")
		return s.write(b, t.Elem(), path+"[value]")
	}
	return s.writeStruct(b, t, path)
}

// selfEncoding reports whether msgpack encodes t with t's own code rather
// than by its kind: t is then a leaf, whatever its fields.
func selfEncoding(t reflect.Type) bool {
	if t == timeType {
		return true
	}
	for _, it := range []reflect.Type{customEncoderType, marshalerType, binaryMarshalerType, textMarshalerType} {
		if t.Implements(it) || reflect.PointerTo(t).Implements(it) {
			return true
		}
	}
	return t.Kind() == reflect.Struct && isExtension(t)
}

// isExtension reports whether t is a msgpack extension type (registered
// with msgpack.RegisterExt), which has no other public trace than its
// encoding.
func isExtension(t reflect.Type) bool {
	data, err := msgpack.Marshal(reflect.New(t).Interface())
	if err != nil || len(data) == 0 {
		return false
	}
	c := data[0]
	return c >= 0xc7 && c <= 0xc9 || c >= 0xd4 && c <= 0xd8
}

func leafName(t reflect.Type) string {
	if t.Name() == "" || t.PkgPath() == "" {
		return t.String()
	}
	return t.PkgPath() + "." + t.Name()
}

// shapeField is one field of a struct as msgpack carries it.
type shapeField struct{ name, shape string }

func (s *shaper) writeStruct(b *strings.Builder, t reflect.Type, path string) error {
	fields, asArray, hidden, err := s.structFields(t, path)
	if err != nil {
		return err
	}
	if len(fields) == 0 && hidden {
		return &shapeError{path: path, typ: t, why: "a struct with no exported fields: msgpack would carry it as an empty map, " +
			"and it would arrive as its zero value, silently (export its fields, or give it a MarshalBinary or EncodeMsgpack method)"}
	}
	b.WriteString("struct")
	if asArray {
		// Fields travel by position: their names do not matter, their order does.
		b.WriteString(",as_array")
	} else {
		slices.SortFunc(fields, func(x, y shapeField) int { return strings.Compare(x.name, y.name) })
	}
	b.WriteString("{")
	for i, f := range fields {
		if i > 0 {
			b.WriteString("; ")
		}
		if !asArray {
			b.WriteString(f.name + " ")
		}
		b.WriteString(f.shape)
	}
	b.WriteString("}")
	return nil
}

// structFields lists t's fields the way msgpack/v5 does (its getFields):
// the msgpack tag's name or the field's, "-" and unexported fields left
// out, embedded structs inlined unless tagged noinline or they would
// shadow a field. hidden says that some unexported field was left out.
func (s *shaper) structFields(t reflect.Type, path string) (fields []shapeField, asArray, hidden bool, err error) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts := parseTag(f.Tag.Get("msgpack"))
		if name == "-" {
			continue
		}
		if f.Name == "_msgpack" {
			asArray = slices.Contains(opts, "as_array") || slices.Contains(opts, "asArray")
			continue
		}
		if !f.IsExported() && !f.Anonymous {
			hidden = true
			continue
		}
		if name == "" {
			name = f.Name
		}
		if f.Anonymous && !slices.Contains(opts, "noinline") {
			inlined, ok, err := s.inline(fields, f, path, slices.Contains(opts, "inline"))
			if err != nil {
				return nil, false, false, err
			}
			if ok {
				fields = inlined
				continue
			}
		}
		var b strings.Builder
		if err := s.write(&b, f.Type, path+"."+f.Name); err != nil {
			return nil, false, false, err
		}
		fields = append(fields, shapeField{name, b.String()})
	}
	return fields, asArray, hidden, nil
}

// inline adds the fields of the embedded struct f to fields, if msgpack
// inlines it: always when tagged inline (shadowed fields left out),
// otherwise only if none of its fields is shadowed.
func (s *shaper) inline(fields []shapeField, f reflect.StructField, path string, forced bool) ([]shapeField, bool, error) {
	t := f.Type
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || selfEncoding(t) || slices.Contains(s.open, t) || slices.Contains(s.inlining, t) {
		return nil, false, nil
	}
	s.inlining = append(s.inlining, t)
	sub, _, _, err := s.structFields(t, path+"."+f.Name)
	s.inlining = s.inlining[:len(s.inlining)-1]
	if err != nil {
		return nil, false, err
	}
	taken := func(g shapeField) bool {
		return slices.ContainsFunc(fields, func(h shapeField) bool { return h.name == g.name })
	}
	if !forced && slices.ContainsFunc(sub, taken) {
		return nil, false, nil
	}
	out := slices.Clone(fields)
	for _, g := range sub {
		if !taken(g) {
			out = append(out, g)
		}
	}
	return out, true, nil
}

// parseTag splits a msgpack struct tag into its name and options.
func parseTag(tag string) (name string, opts []string) {
	name, rest, _ := strings.Cut(tag, ",")
	for _, o := range strings.Split(rest, ",") {
		if o = strings.TrimSpace(o); o != "" {
			opts = append(opts, o)
		}
	}
	return strings.TrimSpace(name), opts
}
