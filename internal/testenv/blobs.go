package testenv

import (
	"bytes"
	"testing"
)

// Blobs returns n items of size pseudo-random bytes (xorshift from seed):
// large items that differ from one another and from seed to seed.
func Blobs(n, size int, seed uint64) [][]byte {
	out := make([][]byte, n)
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := range out {
		out[i] = make([]byte, size)
		for j := range out[i] {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			out[i][j] = byte(x)
		}
	}
	return out
}

// SameBlobs fails t unless got holds the items of want, byte for byte.
func SameBlobs(t testing.TB, want, got [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d results of %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(want[i], got[i]) {
			t.Fatalf("item %d (%d bytes) came back as %d different bytes", i, len(want[i]), len(got[i]))
		}
	}
}

// HeldAcrossAnotherMap checks that results held from one map (out) stay
// as they were while another map, of other items of the same shape, runs
// through mapItems: results decoded over memory that a later map reuses
// would change under their holder.
func HeldAcrossAnotherMap(t testing.TB, out [][]byte, mapItems func([][]byte) ([][]byte, error)) {
	t.Helper()
	kept := make([][]byte, len(out))
	for i := range out {
		kept[i] = bytes.Clone(out[i])
	}
	size := 0
	if len(out) > 0 {
		size = len(out[0])
	}
	other := Blobs(len(out), size, 2)
	out2, err := mapItems(other)
	if err != nil {
		t.Fatal(err)
	}
	SameBlobs(t, other, out2)
	SameBlobs(t, kept, out)
}
