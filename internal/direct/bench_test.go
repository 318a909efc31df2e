package direct

import (
	"bytes"
	"context"
	"testing"
)

// BenchmarkRoundTrip: a 3 MiB payload fetched and a 3 MiB result sent
// back, per op (the shape of an automatic chunk of 1 MiB items).
func BenchmarkRoundTrip(b *testing.B) {
	s, err := Listen(ServerConfig{Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	items := [][]byte{bytes.Repeat([]byte{1}, 1<<20), bytes.Repeat([]byte{2}, 1<<20), bytes.Repeat([]byte{3}, 1<<20)}
	b.SetBytes(6 << 20)
	for b.Loop() {
		o, err := s.Offer(items)
		if err != nil {
			b.Fatal(err)
		}
		f, err := Open(context.Background(), o.Ref(), 1<<30)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Deliver([][]byte{f.Payload}); err != nil {
			b.Fatal(err)
		}
		f.Close()
		o.Drop()
	}
}
