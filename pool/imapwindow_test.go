package pool_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// TestImapOfAStreamHoldsAFewChunks: an Imap over a stream of unknown
// length whose reader stops after its first result pulls only about a
// window of 2*slots+2 small chunks from the stream, not the 128 one-item
// chunks sized for Chunksize(1) maps: what an Imap holds in flight is its
// memory.
func TestImapOfAStreamHoldsAFewChunks(t *testing.T) {
	const slots = 2
	addr := gearmand(t)
	startWorker(t, slots, addr)
	p := newPool(t, slowSquare.Name(), slots, addr)
	ctx := testenv.ContextWithin(t, 30*time.Second)
	var pulled atomic.Int64
	stream := func(yield func(int64) bool) {
		for i := int64(0); ; i++ {
			pulled.Add(1)
			if !yield(i) {
				return
			}
		}
	}
	for v, err := range pool.Imap(ctx, p, slowSquare, stream) {
		if err != nil || v != 0 {
			t.Fatalf("first result %d, %v", v, err)
		}
		// The reader holds on to its first result: the map may fill its
		// window, no more.
		time.Sleep(500 * time.Millisecond)
		break
	}
	if n := pulled.Load(); n > 8*(2*slots+2) {
		t.Errorf("the map pulled %d items while its reader held one result, want about a window of %d small chunks", n, 2*slots+2)
	}
}
