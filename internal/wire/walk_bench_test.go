package wire

import (
	"fmt"
	"testing"
)

// BenchmarkDecodeChunk decodes chunks of a trivial map's items and of
// strings: the walk (walkMsgpack) and the decoding.
func BenchmarkDecodeChunk(b *testing.B) {
	ints := make([]int64, 100_000)
	strs := make([]string, 10_000)
	for i := range ints {
		ints[i] = int64(i * i)
	}
	for i := range strs {
		strs[i] = fmt.Sprint("item ", i)
	}
	intMsg, _ := Encode(ChunkRequest[int64]{Items: ints})
	strMsg, _ := Encode(ChunkRequest[string]{Items: strs})
	b.Run("int64", func(b *testing.B) {
		b.SetBytes(int64(len(intMsg)))
		for b.Loop() {
			var v ChunkRequest[int64]
			if err := Decode(intMsg, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("walk-int64", func(b *testing.B) {
		b.SetBytes(int64(len(intMsg)))
		for b.Loop() {
			if err := walkMsgpack(intMsg[1:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("walk-string", func(b *testing.B) {
		b.SetBytes(int64(len(strMsg)))
		for b.Loop() {
			if err := walkMsgpack(strMsg[1:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
