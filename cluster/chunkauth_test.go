package cluster

import (
	"context"
	"log/slog"
	"testing"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// FuzzOpenChunk drives a keyed worker's chunk path (the key check, then
// RunChunk's decoding) with any bytes, sealed or not, altered or not: it
// never panics, and the function runs exactly when the chunk is the key's
// seal of its function and unique id, untouched: every byte of a frame
// (magic, salt, tag, payload) is covered, so any flipped bit, and any
// bytes the key did not seal, must be refused.
func FuzzOpenChunk(f *testing.F) {
	k, err := auth.GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	square, _ := wire.Lookup(funcs.Square.Name())
	fn := square.GearmanName()
	in, out := funcs.Square.Shapes()
	chunk, _ := wire.Encode(wire.ChunkRequest[int64]{Items: []int64{1, 2, 3}, InType: in, OutType: out})
	f.Add(chunk, "0123456789abcdef-0", true, uint16(0))
	f.Add(chunk, "0123456789abcdef-0", true, uint16(40))
	f.Add(chunk, "0123456789abcdef-0", false, uint16(0))
	f.Add([]byte{0xA8}, "", false, uint16(0))
	f.Add([]byte("garbage"), "x", true, uint16(0))
	w := &Worker{key: k, id: "fuzz", log: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, data []byte, unique string, seal bool, flip uint16) {
		frame := data
		if seal {
			frame = k.Seal(auth.PurposeChunk, data, []byte(fn), []byte(unique))
			if flip > 0 {
				frame[int(flip)%len(frame)] ^= byte(1 << (flip % 8))
			}
		}
		valid := seal && flip == 0
		ran := false
		run := w.authenticated(func(ctx context.Context, job *gearman.Job) ([]byte, error) {
			ran = true
			return square.RunChunk(ctx, job.Data, w.id)
		})
		run(context.Background(), &gearman.Job{Function: fn, Handle: "H:fuzz:1", Unique: unique, Data: frame})
		if ran != valid {
			t.Fatalf("the chunk ran: %v; its MAC is valid: %v", ran, valid)
		}
		if seal && flip == 0 && !ran {
			t.Fatal("a chunk sealed with the key did not run")
		}
	})
}

// A result is sealed in place only when it is the tail of the buffer
// runLimited reserved; anything else gets a frame of its own, so that
// sealing never writes over bytes the result does not own.
func TestResultSlotSealsOnlyItsOwnBuffer(t *testing.T) {
	frame := make([]byte, auth.FrameOverhead+3)
	slot := &resultSlot{frame: frame}
	if got, ok := slot.frameOf(frame[auth.FrameOverhead:]); !ok || &got[0] != &frame[0] {
		t.Error("the reserved buffer's tail was not recognised")
	}
	for name, result := range map[string][]byte{
		"another buffer": make([]byte, 3),
		"a shorter tail": frame[auth.FrameOverhead+1:],
		"empty":          nil,
	} {
		if _, ok := slot.frameOf(result); ok {
			t.Errorf("%s: taken for the reserved buffer", name)
		}
	}
	var none *resultSlot
	if _, ok := none.frameOf(frame[auth.FrameOverhead:]); ok {
		t.Error("a nil slot claimed a buffer")
	}
}
