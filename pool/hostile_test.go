package pool_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// Hostile input at the pool level: chunks and results over the packet
// size limit, invalid names, and chunk payloads no client would send.

var (
	hostileLen = pool.Register("hostiletest.len", func(_ context.Context, s string) (int, error) {
		return len(s), nil
	})
	hostileBlowup = pool.Register("hostiletest.blowup", func(_ context.Context, n int) (string, error) {
		return strings.Repeat("R", n), nil
	})
)

const hostileLimit = 64 << 10

// hostilePool is a pool whose packets are limited to hostileLimit bytes,
// with a worker for every registered function.
func hostilePool(t *testing.T) *pool.Pool {
	t.Helper()
	addr := gearmand(t)
	startWorker(t, 2, addr)
	p, err := pool.New(config.Client{JobServers: []string{addr}}, pool.WithMaxPacketSize(hostileLimit))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	waitSlots(t, p, hostileLen.Name(), 2)
	return p
}

// TestHostileMapItemOverLimit: a chunk over the packet size limit fails
// the map at once with an error naming the function, the chunk and its
// items, the size and the limit; the pool goes on working.
func TestHostileMapItemOverLimit(t *testing.T) {
	p := hostilePool(t)
	ctx := testenv.Context(t)
	big := strings.Repeat("x", 100_000)
	_, err := pool.Map(ctx, p, hostileLen, []string{"a", big, "c"}, pool.Chunksize(1))
	var tooLarge *gearman.PacketTooLargeError
	if !errors.As(err, &tooLarge) || tooLarge.Max != hostileLimit || tooLarge.Size <= 100_000 {
		t.Fatalf("map with a 100 kB item over a %d-byte limit: %v; want a *gearman.PacketTooLargeError", hostileLimit, err)
	}
	for _, want := range []string{hostileLen.Name(), "items 1-1", fmt.Sprintf("%d bytes is over the %d-byte limit", tooLarge.Size, hostileLimit)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	var te *pool.TaskError
	if errors.As(err, &te) || errors.Is(err, gearman.ErrConnectionLost) {
		t.Errorf("error %v: an oversize chunk is neither a task error nor a lost connection", err)
	}

	// Several items that fit alone but not together: the chunk is named.
	_, err = pool.Map(ctx, p, hostileLen, []string{"a", big[:40_000], big[:40_000], "d"}, pool.Chunksize(4))
	if !errors.As(err, &tooLarge) || !strings.Contains(err.Error(), "items 0-3") {
		t.Fatalf("map with a chunk of 80 kB: %v; want a *gearman.PacketTooLargeError naming items 0-3", err)
	}

	got, err := pool.Map(ctx, p, hostileLen, []string{"a", big[:1000], "ccc"})
	if err != nil || fmt.Sprint(got) != "[1 1000 3]" {
		t.Fatalf("map after the oversize ones: %v, %v", got, err)
	}
}

// TestHostileMapResultOverLimit: a chunk whose RESULT is over the pool's
// limit fails the map, naming the chunk, the size and the limit, instead
// of costing the connection (and being retried); the pool goes on.
func TestHostileMapResultOverLimit(t *testing.T) {
	p := hostilePool(t)
	ctx := testenv.Context(t)
	_, err := pool.Map(ctx, p, hostileBlowup, []int{10, 100_000, 10}, pool.Chunksize(1))
	var tooLarge *gearman.PacketTooLargeError
	if !errors.As(err, &tooLarge) || !tooLarge.Skipped || tooLarge.Max != hostileLimit {
		t.Fatalf("map with a 100 kB result over a %d-byte limit: %v; want a skipped *gearman.PacketTooLargeError", hostileLimit, err)
	}
	for _, want := range []string{hostileBlowup.Name(), "items 1-1", "result dropped", "WORK_COMPLETE packet of", fmt.Sprintf("over the %d-byte limit", hostileLimit)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "times") || errors.Is(err, gearman.ErrConnectionLost) {
		t.Errorf("error %v: an oversize result is final, not retried", err)
	}
	got, err := pool.Map(ctx, p, hostileBlowup, []int{1, 2, 3})
	if err != nil || fmt.Sprint(got) != "[R RR RRR]" {
		t.Fatalf("map after the oversize result: %v, %v", got, err)
	}
}

// TestHostileRegisterNames: Register's panic names the bad name and the
// rule it breaks.
func TestHostileRegisterNames(t *testing.T) {
	rule := "want 1-200 of ASCII letters, digits, '.', '_', '-', ':'"
	for _, name := range []string{"", "bad name!", "nul\x00inside", "\x00", "tab\there", "caf\u00e9", "glimpse/x", strings.Repeat("x", 201)} {
		msg := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			pool.Register(name, func(context.Context, int) (int, error) { return 0, nil })
			return "no panic"
		}()
		if !strings.Contains(msg, fmt.Sprintf("invalid function name %q", name)) || !strings.Contains(msg, rule) {
			t.Errorf("Register(%q) panicked with %q; want the name and %q", name, msg, rule)
		}
	}
	if _, ok := wire.Lookup("bad name!"); ok {
		t.Error("a refused name was registered")
	}
}

// hostilePayloads are chunk payloads for a function of int64 that no pool
// sends, each with what the worker's error must say.
func hostilePayloads() []struct {
	name    string
	payload []byte
	want    string
} {
	u32 := func(b byte, n uint32) []byte { return binary.BigEndian.AppendUint32([]byte{b}, n) }
	// [start, timeout, In shape, Out shape, items]
	chunk := func(items ...byte) []byte { return append([]byte("\x02\x95\x00\x00\xa5int64\xa5int64"), items...) }
	return []struct {
		name    string
		payload []byte
		want    string
	}{
		{"empty", nil, "empty message"},
		{"garbage", []byte("\xffgarbage \x00\x01\x02"), "message version 255"},
		{"wrong version", append([]byte{1}, chunk(0x91, 1)[1:]...), "message version 1, this program speaks version 2"},
		{"only the version", []byte{2}, "ends inside a value at byte 0"},
		{"wrong item types", chunk(0x92, 0xa1, 'x', 0xc3), "cannot decode the chunk: msgpack: invalid code"},
		{"huge array length", chunk(u32(0xdd, 0xFFFFFFFF)...), "a container of 4294967295 values in the 0 bytes left"},
		{"huge map length", append([]byte{2}, u32(0xdf, 0x80000000)...), "a container of 4294967296 values"},
		{"huge string length", chunk(append([]byte{0x91}, u32(0xdb, 0xFFFFFFF0)...)...), "a 4294967280-byte field runs past"},
		{"huge binary length", chunk(append([]byte{0x91}, u32(0xc6, 0x7FFFFFFF)...)...), "a 2147483647-byte field runs past"},
		{"truncated", chunk(0x92, 0xcc, 5), "message ends inside a value at byte 18"},
		{"truncated number", chunk(0x91, 0xcd, 1), "a 2-byte field runs past the 18-byte message"},
		{"count over the bytes left", chunk(0x92, 1), "a container of 2 values in the 1 bytes left"},
		{"trailing bytes", append(chunk(0x91, 1), 0, 0), "2 bytes after its end"},
		{"unused code", chunk(0x91, 0xc1), "unknown msgpack code 0xc1"},
		// Ten million nested arrays: a recursive walk overflows the stack,
		// which kills the process instead of panicking.
		{"deep nesting", append([]byte{2}, bytes.Repeat([]byte{0x91}, 10_000_000)...), "nested deeper than 10000 levels"},
	}
}

// TestHostileChunkPayloads runs a registered function's RunChunk, as a
// worker does, on payloads no pool sends: each gets a task error saying
// what is wrong, and none may crash the process.
func TestHostileChunkPayloads(t *testing.T) {
	f, ok := wire.Lookup(funcs.Square.Name())
	if !ok {
		t.Fatal("examples.square is not registered")
	}
	ctx := testenv.Context(t)
	for _, tc := range hostilePayloads() {
		_, err := f.RunChunk(ctx, tc.payload, "w1")
		var ex *gearman.JobException
		var te *pool.TaskError
		if !errors.As(err, &ex) || !errors.As(err, &te) {
			t.Fatalf("%s: %v; want a *gearman.JobException and a *pool.TaskError", tc.name, err)
		}
		if te.Func != funcs.Square.Name() || te.Index != -1 || te.Worker != "w1" ||
			!strings.HasPrefix(te.Message, "cannot decode the chunk: ") || !strings.Contains(te.Message, tc.want) {
			t.Errorf("%s: %+v; want a message with %q", tc.name, te, tc.want)
		}
	}
	// The function still serves a good chunk.
	good := []byte("\x02\x95\x00\x00\xa5int64\xa5int64\x92\x03\x04")
	if data, err := f.RunChunk(ctx, good, "w1"); err != nil || !bytes.Equal(data, []byte{2, 0x91, 0x92, 9, 16}) {
		t.Fatalf("good chunk: %x, %v", data, err)
	}
}
