package pool

import (
	"bytes"
	"context"
	"testing"

	"github.com/glimpse-go/glimpse/internal/wire"
)

var sharedBytesProbe = RegisterWith("test.internal.sharedbytes", func(_ context.Context, b []byte, i int) (int, error) {
	return len(b) + i, nil
})

// A []byte shared value decodes in place, sharing the encoded bytes
// (no 50 MB copy per worker), whatever msgpack's size class, and equals
// what was encoded; nil and empty values decode as msgpack decodes them.
func TestSharedBytesDecodeInPlace(t *testing.T) {
	reg := registeredWith[[]byte, int, int]{sharedBytesProbe}
	for _, n := range []int{1, 200, 300, 70_000} { // bin 8, bin 8, bin 16, bin 32
		want := bytes.Repeat([]byte{7, 1, 9}, n)[:n]
		enc, err := wire.Encode(want)
		if err != nil {
			t.Fatal(err)
		}
		v, err := reg.DecodeShared(enc)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		got := v.([]byte)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: decoded %d bytes that differ", n, len(got))
		}
		if &got[0] != &enc[len(enc)-n] {
			t.Errorf("%d bytes: decoded into a copy, want the encoded bytes in place", n)
		}
	}
	for _, in := range [][]byte{nil, {}} {
		enc, _ := wire.Encode(in)
		v, err := reg.DecodeShared(enc)
		if err != nil || len(v.([]byte)) != 0 {
			t.Errorf("%v: decoded %v, %v", in, v, err)
		}
	}
	if _, err := reg.DecodeShared([]byte{0xc5, 0, 9, 1}); err == nil {
		t.Error("a bin 16 header naming 9 bytes, followed by 1: no error")
	}
}
