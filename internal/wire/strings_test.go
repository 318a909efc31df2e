package wire

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// stringsMsg is a message holding an array of strings, as a chunk's items.
type stringsMsg struct {
	_msgpack struct{} `msgpack:",as_array"`
	Items    inPlaceStrings
}

type inPlaceStrings []string

func (s *inPlaceStrings) DecodeMsgpack(d *msgpack.Decoder) error {
	return DecodeStringsInPlace(d, (*[]string)(s))
}

// DecodeStringsInPlace reads strings of every length class (fixstr, str8,
// str16, str32, empty) as msgpack does, each over the message's bytes; a
// bin or nil value, or a decoder reading something other than Decode's
// message, as msgpack does; and refuses an array longer than its message.
func TestDecodeStringsInPlace(t *testing.T) {
	items := []string{"", "ab", strings.Repeat("x", 200), strings.Repeat("y", 300), strings.Repeat("z", 70_000)}
	data, err := Encode(ChunkResult[string]{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	var got stringsMsg
	if err := Decode(data, &got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Items, items) {
		t.Fatalf("decoded %d strings, not the %d sent", len(got.Items), len(items))
	}
	for i, s := range got.Items[1:] {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		if lo := uintptr(unsafe.Pointer(&data[0])); p < lo || p >= lo+uintptr(len(data)) {
			t.Fatalf("item %d is a copy, not the message's bytes", i+1)
		}
	}

	var other stringsMsg // bin and nil among the strs: msgpack's answers
	if err := Decode(genericEncode(t, []any{[]any{"text", []byte("bin"), nil}}), &other); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(other.Items, []string{"text", "bin", ""}) {
		t.Fatalf("str, bin, nil decoded as %q", other.Items)
	}
	var copied []string // not Decode's reader: copies, as msgpack makes them
	dec := msgpack.NewDecoder(bytes.NewReader(data[2:]))
	if err := DecodeStringsInPlace(dec, &copied); err != nil || !slices.Equal(copied, items) {
		t.Fatalf("through a bytes.Reader: %d strings, %v", len(copied), err)
	}

	hostile := []byte{version, 0x91, 0xdd, 0x7f, 0xff, 0xff, 0xff, 0xa1, 'a'} // [[2^31 strings...]]
	if err := Decode(hostile, &other); err == nil {
		t.Fatal("an array of 2^31 strings in 2 bytes decoded")
	}
	var xs []string
	short := msgpack.NewDecoder(bytes.NewReader([]byte{0x92, 0xa1, 'a'}))
	if err := DecodeStringsInPlace(short, &xs); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("an array cut short: %v, want EOF", err)
	}
}
