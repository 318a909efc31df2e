package pool

import (
	"encoding/json"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

type shapeRange struct{ Lo, Hi int64 }

type shapeTagged struct {
	Name    string   `msgpack:"name"`
	Skipped func()   `msgpack:"-"`
	Tags    []string `msgpack:"tags,omitempty"`
	private int
	Ptr     *shapeRange
}

type shapeArray struct {
	_msgpack struct{} `msgpack:",as_array"`
	B        string
	A        int32
}

type shapeBase struct{ ID uint64 }

type shapeEmbeds struct {
	shapeBase
	Note string
}

type shapeNoInline struct {
	shapeBase `msgpack:",noinline"`
	Note      string
}

type shapeTree struct {
	Value    int
	Children []shapeTree
	Parent   *shapeTree
}

type shapeList []shapeList

type shapeOpaque struct{ secret int }

func (o shapeOpaque) MarshalText() ([]byte, error) { return nil, nil }

type shapeCelsius float64

type shapeHidden struct{ secret int }

type shapeWithFunc struct {
	Name     string
	Callback func(int)
}

type shapeWithChan struct{ Jobs []struct{ Done chan bool } }

type shapeWithStringer struct{ S interface{ String() string } }

func TestShapes(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{int64(0), "int64"},
		{"", "string"},
		{shapeCelsius(0), "float64"},
		{[]byte(nil), "[]uint8"},
		{[4]int{}, "[4]int"},
		{map[string][]int(nil), "map[string][]int"},
		{shapeRange{}, "struct{Hi int64; Lo int64}"},
		{&shapeRange{}, "struct{Hi int64; Lo int64}"},
		{shapeTagged{}, "struct{Ptr struct{Hi int64; Lo int64}; name string; tags []string}"},
		{shapeArray{}, "struct,as_array{string; int32}"},
		{shapeEmbeds{}, "struct{ID uint64; Note string}"},
		{shapeNoInline{}, "struct{Note string; shapeBase struct{ID uint64}}"},
		{shapeTree{}, "struct{Children []^2; Parent ^1; Value int}"},
		{shapeList{}, "[]^1"},
		{time.Time{}, "time.Time"},
		{shapeOpaque{}, "github.com/glimpse-go/glimpse/pool.shapeOpaque"},
		{big.Int{}, "math/big.Int"},
		{json.RawMessage{}, "[]uint8"},
		{[]any{}, "[]any"},
		{struct{ Err error }{}, "struct{Err error}"},
		{struct{}{}, "struct{}"},
	} {
		got, err := shapeOf(reflect.TypeOf(tc.v), "In")
		if err != nil || got != tc.want {
			t.Errorf("shape of %T: %q, %v; want %q", tc.v, got, err, tc.want)
		}
	}
}

func TestShapesRefused(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{shapeHidden{}, "In (pool.shapeHidden) cannot travel: a struct with no exported fields"},
		{shapeWithFunc{}, "In.Callback (func(int)) cannot travel: msgpack cannot carry a func"},
		{shapeWithChan{}, "In.Jobs[].Done (chan bool) cannot travel: msgpack cannot carry a chan"},
		{complex(1, 2), "In (complex128) cannot travel: msgpack cannot carry a complex128"},
		{map[string]shapeWithStringer{}, "In[value].S (interface { String() string }) cannot travel: an interface with methods"},
		{uintptr(0), "msgpack cannot carry a uintptr"},
	} {
		got, err := shapeOf(reflect.TypeOf(tc.v), "In")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("shape of %T: %q, %v; want an error saying %q", tc.v, got, err, tc.want)
		}
	}
}

type shapeExt struct{ n int }

func TestShapeOfExtension(t *testing.T) {
	msgpack.RegisterExtEncoder(77, shapeExt{}, func(_ *msgpack.Encoder, v reflect.Value) ([]byte, error) {
		return []byte{byte(v.Interface().(shapeExt).n)}, nil
	})
	got, err := shapeOf(reflect.TypeFor[shapeExt](), "In")
	if err != nil || got != "github.com/glimpse-go/glimpse/pool.shapeExt" {
		t.Fatalf("shape of an extension type: %q, %v", got, err)
	}
}

func TestWireShape(t *testing.T) {
	if got := wireShape("int64"); got != "int64" {
		t.Errorf("short shape travels as %q", got)
	}
	long := "struct{" + strings.Repeat("Field int64; ", 40) + "}"
	if got := wireShape(long); len(got) != 17 || got[0] != '#' || got == wireShape(long+" ") {
		t.Errorf("long shape travels as %q", got)
	}
}
