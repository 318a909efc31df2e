package cli

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

// TestHostileChunksToWorkerProcess sends chunk payloads no pool sends,
// with a plain gearman.Client, to a "glimpse-cluster worker" process: each
// comes back as a WORK_EXCEPTION carrying a task error that says what is
// wrong, and the process goes on serving maps.
func TestHostileChunksToWorkerProcess(t *testing.T) {
	ctx := testenv.Context(t)
	srv := testenv.Gearmand(t)
	cfg := writeConfig(t, []string{srv.Addr()})
	p := startProc(t, "-c", cfg, "worker", "-n", "2")
	info := waitWorker(t, ctx, srv.Addr(), "glimpse.examples.square")
	workerID := strings.TrimPrefix(info.ClientID, "glimpse/2/")

	u32 := func(b byte, n uint32) []byte { return binary.BigEndian.AppendUint32([]byte{b}, n) }
	// A chunk for a function of int64: version 2, [start, timeout, In
	// shape, Out shape, items].
	chunk := func(items ...byte) []byte { return append([]byte("\x02\x95\x00\x00\xa5int64\xa5int64"), items...) }
	c := newClient(t, ctx, srv.Addr())
	for _, tc := range []struct {
		name    string
		payload []byte
		want    string
	}{
		{"empty", nil, "empty message"},
		{"garbage", []byte("\xffgarbage \x00\x01\x02"), "message version 255"},
		{"wrong version", append([]byte{1}, chunk(0x91, 1)[1:]...), "message version 1, this program speaks version 2"},
		{"wrong item types", chunk(0x92, 0xa1, 'x', 0xc3), "msgpack: invalid code"},
		{"huge declared length", chunk(u32(0xdd, 0xFFFFFFFF)...), "a container of 4294967295 values in the 0 bytes left"},
		{"huge string length", chunk(append([]byte{0x91}, u32(0xdb, 0xFFFFFFF0)...)...), "a 4294967280-byte field runs past"},
		// Ten million nested arrays overflowed the worker's stack: a fatal
		// error, not a panic, so the whole process died.
		{"deep nesting", append([]byte{2}, bytes.Repeat([]byte{0x91}, 10_000_000)...), "nested deeper than 10000 levels"},
	} {
		_, err := c.Call(ctx, "glimpse.examples.square", tc.payload)
		var ex *gearman.JobException
		if !errors.As(err, &ex) || ex.Function != "glimpse.examples.square" {
			t.Fatalf("%s: %v; want a *gearman.JobException from the worker", tc.name, err)
		}
		// The exception carries the encoded *pool.TaskError: version 2,
		// then msgpack.
		var te pool.TaskError
		if len(ex.Data) == 0 || ex.Data[0] != 2 || msgpack.Unmarshal(ex.Data[1:], &te) != nil {
			t.Fatalf("%s: exception data %q is not an encoded task error", tc.name, ex.Data)
		}
		if te.Func != "examples.square" || te.Index != -1 || te.Worker != workerID || te.Panic ||
			!strings.HasPrefix(te.Message, "cannot decode the chunk: ") || !strings.Contains(te.Message, tc.want) {
			t.Errorf("%s: task error %+v; want one from worker %s saying %q", tc.name, te, workerID, tc.want)
		}
	}
	select {
	case <-p.done:
		t.Fatalf("the worker process exited; stderr:\n%s", p.stderr)
	default:
	}
	p.stderr.WaitFor(t, ctx, "cannot decode the chunk", p.done)

	// The same process still serves a normal map.
	pl, err := pool.New(config.Client{JobServers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	checkSquares(t, ctx, pl)
	if now := waitWorker(t, ctx, srv.Addr(), "glimpse.examples.square"); now.ClientID != info.ClientID {
		t.Fatalf("worker %q serves now, want the same process %q", now.ClientID, info.ClientID)
	}
}

// TestHostileWorkerConfigFunctionName: a worker whose config file names
// a function that cannot exist refuses to start, and says where.
func TestHostileWorkerConfigFunctionName(t *testing.T) {
	ctx := testenv.Context(t)
	cfg := writeConfig(t, []string{"127.0.0.1:4730"}, "[worker]", "functions = examples.square, bad name!")
	p := startProc(t, "-c", cfg, "worker")
	if code := p.wait(t, ctx); code == 0 {
		t.Fatalf("worker with a bad function name exited 0; stderr:\n%s", p.stderr)
	}
	want := cfg + `:4: [worker] functions: "bad name!": not a function name`
	if !strings.Contains(p.stderr.String(), want) {
		t.Fatalf("stderr:\n%s\nwant it to say %q", p.stderr, want)
	}
}
