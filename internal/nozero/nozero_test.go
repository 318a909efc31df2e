package nozero_test

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/glimpse-go/glimpse/internal/nozero"
)

// TestBytesAreUsableAndSeparate: slices of every size have the length and
// capacity asked for, and two slices never share memory (writing one does
// not change the other, even after a GC recycles freed buffers).
func TestBytesAreUsableAndSeparate(t *testing.T) {
	for _, n := range []int{0, 1, 100, 64<<10 - 1, 64 << 10, 1 << 20, 3<<20 + 7} {
		a, b := nozero.Bytes(n), nozero.Bytes(n)
		if len(a) != n || cap(a) != n {
			t.Fatalf("Bytes(%d): len %d cap %d", n, len(a), cap(a))
		}
		for i := range a {
			a[i] = 1
		}
		for i := range b {
			b[i] = 2
		}
		if n > 0 && (!bytes.Equal(a, bytes.Repeat([]byte{1}, n)) || b[0] != 2) {
			t.Fatalf("Bytes(%d): two slices share memory", n)
		}
		runtime.GC()
	}
}

// TestSmallBytesAreZeroed: below the threshold the slice is zeroed, as
// make's.
func TestSmallBytesAreZeroed(t *testing.T) {
	for range 100 {
		for _, c := range nozero.Bytes(4096) {
			if c != 0 {
				t.Fatal("a small slice is not zeroed")
			}
		}
	}
}

// A buffer that a read fills whole need not be zeroed first.
func ExampleBytes() {
	buf := nozero.Bytes(1 << 20)
	n, err := io.ReadFull(bytes.NewReader(bytes.Repeat([]byte{7}, 1<<20)), buf)
	fmt.Println(n, err, buf[0], buf[len(buf)-1])
	// Output: 1048576 <nil> 7 7
}
