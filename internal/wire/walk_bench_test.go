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

// BenchmarkScalarChunk encodes and decodes a chunk of 100,000 int64 of
// 5 bytes each, as a sum over 0..100M sends them.
func BenchmarkScalarChunk(b *testing.B) {
	ints := make([]int64, 100_000)
	for i := range ints {
		ints[i] = int64(50_000_000 + i)
	}
	msg, _ := Encode(ChunkRequest[int64]{Items: ints})
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			if _, err := EncodeSized(0, len(msg), ChunkRequest[int64]{Items: ints}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			var v ChunkRequest[int64]
			if !DecodeScalarChunk(msg, &v, func(string, string) bool { return true }) {
				b.Fatal("not taken")
			}
		}
	})
}
