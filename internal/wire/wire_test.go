package wire

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestChunkRoundTrip(t *testing.T) {
	in := ChunkRequest[int64]{Start: 10, TaskTimeout: 5, InType: "int64", OutType: "string", Items: []int64{1, -2, 300}}
	data, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	if data[0] != version {
		t.Fatalf("first byte %d, want the version %d", data[0], version)
	}
	var out ChunkRequest[int64]
	if err := Decode(data, &out); err != nil {
		t.Fatal(err)
	}
	if out.Start != 10 || out.TaskTimeout != 5 || out.InType != "int64" || out.OutType != "string" ||
		len(out.Items) != 3 || out.Items[2] != 300 {
		t.Fatalf("round trip: %+v", out)
	}
}

// TestDecodeRefusesBadMessages: each message is refused with an error
// that says what is wrong with it, before msgpack allocates or recurses.
func TestDecodeRefusesBadMessages(t *testing.T) {
	good, _ := Encode(ChunkResult[int64]{Items: []int64{1, 2}})
	deep := append([]byte{version}, bytes.Repeat([]byte{0x91}, maxNesting+1)...)
	deep = append(deep, 0x01)
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"empty":         {nil, "empty message"},
		"other version": {append([]byte{1}, good[1:]...), "message version 1, this program speaks version 2"},
		"truncated":     {good[:len(good)-1], "a container of 2 values in the 1 bytes left"},
		"cut short":     {[]byte{version, 0x92, 0x91, 0x01}, "message ends inside a value"},
		"trailing":      {append(bytes.Clone(good), 0x01), "1 bytes after its end"},
		"huge array":    {[]byte{version, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01}, "a container of 4294967295 values"},
		"huge string":   {[]byte{version, 0xdb, 0x7f, 0xff, 0xff, 0xff}, "runs past the 5-byte message"},
		"too deep":      {deep, "nested deeper than 10000 levels"},
		"unknown code":  {[]byte{version, 0xc1}, "unknown msgpack code 0xc1"},
	} {
		var v any
		err := Decode(tc.data, &v)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
}

// FuzzDecode: any bytes decode or give an error, never a panic or a
// fatal stack overflow.
func FuzzDecode(f *testing.F) {
	good, _ := Encode(ChunkRequest[string]{Items: []string{"a", "b"}})
	f.Add(good)
	f.Add([]byte{version, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	ints, _ := Encode(ChunkRequest[int64]{Items: []int64{1, -1, 300, -40000, 1 << 40}})
	f.Add(ints)
	floats, _ := Encode(ChunkRequest[float64]{Items: []float64{1.5, -2}})
	f.Add(floats)
	blobs, _ := Encode(ChunkResult[[]byte]{Items: [][]byte{nil, {}, []byte("ab")}})
	f.Add(blobs)
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		_ = Decode(data, &v)
		// The slice fast paths (scalars.go) read the message in place.
		var ci ChunkRequest[int64]
		_ = Decode(data, &ci)
		var cf ChunkRequest[float64]
		_ = Decode(data, &cf)
		var cb ChunkResult[[]byte]
		_ = Decode(data, &cb)
	})
}

func TestChunkStartedNotice(t *testing.T) {
	if w, ok := ParseChunkStarted(ChunkStarted("host-1-ab")); !ok || w != "host-1-ab" {
		t.Fatalf("round trip: %q, %v", w, ok)
	}
	// Other WORK_DATA a function might send is not a notice.
	for _, data := range [][]byte{nil, {version}, []byte("started"), {version + 1, startedKind, 'w'}, {version, 'x', 'w'}} {
		if w, ok := ParseChunkStarted(data); ok {
			t.Errorf("ParseChunkStarted(%q) = %q, want no notice", data, w)
		}
	}
}

func TestWorkerClientID(t *testing.T) {
	id, slots, ok := ParseWorkerClientID(WorkerClientID("host-1-abc", 8))
	if !ok || id != "host-1-abc" || slots != 8 {
		t.Fatalf("got %q %d %v", id, slots, ok)
	}
	for _, bad := range []string{"", "-", "glimpse/", "glimpse/x/id", "glimpse/0/id", "glimpse/2/", "other/2/id"} {
		if _, _, ok := ParseWorkerClientID(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestChunkMapID(t *testing.T) {
	for unique, want := range map[string]string{
		"0123456789abcdef-7":                   "0123456789abcdef",
		"0123456789abcdef-7-backup":            "0123456789abcdef",
		"0123456789abcdef":                     "",
		"../x-1":                               "",
		strings.Repeat("a", MaxMapID+1) + "-1": "",
	} {
		if got := ChunkMapID(unique); got != want {
			t.Errorf("ChunkMapID(%q) = %q, want %q", unique, got, want)
		}
	}
}

type stubFunction string

func (f stubFunction) Name() string        { return string(f) }
func (f stubFunction) GearmanName() string { return GearmanPrefix + string(f) }
func (f stubFunction) RunChunk(context.Context, []byte, string) ([]byte, error) {
	return nil, nil
}

func TestRegistry(t *testing.T) {
	if !Register(stubFunction("wiretest.b")) || !Register(stubFunction("wiretest.a")) {
		t.Fatal("a free name was refused")
	}
	if Register(stubFunction("wiretest.a")) {
		t.Fatal("a name was registered twice")
	}
	if f, ok := Lookup("wiretest.a"); !ok || f.GearmanName() != "glimpse.wiretest.a" {
		t.Fatalf("Lookup: %v, %v", f, ok)
	}
	if _, ok := Lookup("wiretest.none"); ok {
		t.Fatal("Lookup found an unregistered name")
	}
	var names []string
	for _, f := range Functions() {
		names = append(names, f.Name())
	}
	if strings.Join(names, " ") != "wiretest.a wiretest.b" {
		t.Fatalf("Functions() = %v, want them sorted by name", names)
	}
}

// TestEncodePartsIsEncode: the parts of EncodeParts, put together, are
// Encode's message, byte for byte, for large and small byte strings and
// strings alike; each byte string of PartMin bytes or more is a part of
// its own, the value's own memory, and a Decode of the whole gives the
// values back.
func TestEncodePartsIsEncode(t *testing.T) {
	big := func(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }
	type item struct {
		Name string
		Data []byte
	}
	items := [][]byte{big(PartMin, 1), []byte("small"), nil, big(3<<20, 2), big(PartMin-1, 3), big(PartMin+1, 4)}
	structs := []item{{"a", big(PartMin, 5)}, {string(big(PartMin, 'x')), []byte("b")}}
	for _, v := range []any{items, structs, ChunkRequest[[]byte]{Start: 7, InType: "[]uint8", Items: items}} {
		want, err := Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		parts, err := EncodeParts(0, v)
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Join(parts, nil); !bytes.Equal(got, want) {
			t.Fatalf("%T: parts joined are %d bytes, Encode's %d: not the same message", v, len(got), len(want))
		}
		if parts[0][0] != version {
			t.Fatalf("%T: first part starts with %d, not the version", v, parts[0][0])
		}
	}
	parts, _ := EncodeParts(0, items)
	shared := 0
	for _, p := range parts {
		for _, it := range items {
			if len(it) >= PartMin && len(p) == len(it) && &p[0] == &it[0] {
				shared++
			}
		}
	}
	if shared != 3 {
		t.Fatalf("%d of the 3 large items are parts of their own; the others were copied", shared)
	}
	var back [][]byte
	if err := Decode(bytes.Join(parts, nil), &back); err != nil || len(back) != len(items) || !bytes.Equal(back[3], items[3]) {
		t.Fatalf("decoding the joined parts: %d items, %v", len(back), err)
	}
}
