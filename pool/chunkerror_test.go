package pool_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// The typed errors of a chunk that no worker finishes, from a real
// gearmand: a worker that takes the chunk and vanishes (its connection
// drops without an answer), again and again.

var vanishing = pool.Register("chunkerrortest.vanishing", func(_ context.Context, x int) (int, error) {
	return x, nil
})

// Gearman packet types the vanishing worker speaks.
const (
	pktCanDo     = 1
	pktPreSleep  = 4
	pktNoop      = 6
	pktGrabJob   = 9
	pktNoJob     = 10
	pktJobAssign = 11
	pktWorkData  = 28
)

func writePacket(w io.Writer, typ uint32, args ...string) error {
	body := strings.Join(args, "\x00")
	pkt := make([]byte, 12, 12+len(body))
	copy(pkt, "\x00REQ")
	binary.BigEndian.PutUint32(pkt[4:], typ)
	binary.BigEndian.PutUint32(pkt[8:], uint32(len(body)))
	_, err := w.Write(append(pkt, body...))
	return err
}

func readPacket(r io.Reader) (typ uint32, body []byte, err error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	body = make([]byte, binary.BigEndian.Uint32(hdr[8:]))
	_, err = io.ReadFull(r, body)
	return binary.BigEndian.Uint32(hdr[4:]), body, err
}

// vanishOnce connects as a worker of fn, takes one job, announces it as
// worker name if announce, and drops the connection without an answer.
func vanishOnce(ctx context.Context, addr, fn, name string, announce bool) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := writePacket(c, pktCanDo, fn); err != nil {
		return err
	}
	for {
		if err := writePacket(c, pktGrabJob); err != nil {
			return err
		}
		typ, body, err := readPacket(c)
		for err == nil && typ == pktNoJob { // sleep until woken
			if err = writePacket(c, pktPreSleep); err == nil {
				for typ = 0; err == nil && typ != pktNoop; {
					typ, _, err = readPacket(c)
				}
			}
		}
		if err != nil {
			return err
		}
		if typ != pktJobAssign {
			continue
		}
		handle, _, _ := strings.Cut(string(body), "\x00")
		if announce {
			return writePacket(c, pktWorkData, handle, string(wire.ChunkStarted(name)))
		}
		return nil
	}
}

// vanishingWorkers runs workers of f that vanish with every job they
// take, one after the other, named vanish-1, vanish-2..., until the test
// ends; the one after the first connects as the first vanishes. It
// returns once the first is registered.
func vanishingWorkers(t *testing.T, p *pool.Pool, addr string, announce bool) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() {
		for i := 1; ctx.Err() == nil; i++ {
			vanishOnce(ctx, addr, wire.GearmanPrefix+vanishing.Name(), fmt.Sprintf("vanish-%d", i), announce)
		}
	})
	waitSlots(t, p, vanishing.Name(), 1)
}

// TestCrashLoopError: a chunk that goes to more than Retries+1 workers, each of
// which announces it and vanishes, fails the map with a *CrashLoopError
// that names the function, the chunk, its items and the workers, and is
// ErrCrashLoop.
func TestCrashLoopError(t *testing.T) {
	addr := gearmand(t)
	p, err := pool.New(config.Client{JobServers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	vanishingWorkers(t, p, addr, true)

	_, err = pool.Map(testenv.Context(t), p, vanishing, []int{10, 11, 12}, pool.Chunksize(3), pool.Retries(1))
	var cl *pool.CrashLoopError
	if !errors.As(err, &cl) || !errors.Is(err, pool.ErrCrashLoop) {
		t.Fatalf("map error %v (%T), want a *pool.CrashLoopError that is ErrCrashLoop", err, err)
	}
	// The map stops at the third start; a fourth may come in meanwhile.
	if cl.Func != vanishing.Name() || cl.Chunk != 0 || cl.First != 0 || cl.Last != 2 ||
		len(cl.Workers) < 3 || strings.Join(cl.Workers[:3], " ") != "vanish-1 vanish-2 vanish-3" {
		t.Fatalf("crash loop error %+v, want chunk 0, items 0-2 of %s, workers vanish-1, vanish-2, vanish-3...", cl, vanishing.Name())
	}
	for _, want := range []string{vanishing.Name(), "chunk 0 (items 0-2)", fmt.Sprintf("went to %d workers", len(cl.Workers)), "vanish-1, vanish-2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestChunkFailedError: gearmand run with --job-retries=1 fails a job
// (WORK_FAIL) whose worker vanished; once Retries is spent the map fails
// with a *ChunkFailedError naming the chunk and the attempts, which is
// gearman.ErrJobFailed and says that gearmand gave up.
func TestChunkFailedError(t *testing.T) {
	addr := gearmand(t, "--job-retries=1")
	p, err := pool.New(config.Client{JobServers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	vanishingWorkers(t, p, addr, false)

	_, err = pool.Map(testenv.Context(t), p, vanishing, []int{1, 2, 3, 4}, pool.Chunksize(2), pool.Retries(1))
	var cf *pool.ChunkFailedError
	if !errors.As(err, &cf) || !errors.Is(err, gearman.ErrJobFailed) {
		t.Fatalf("map error %v (%T), want a *pool.ChunkFailedError that is gearman.ErrJobFailed", err, err)
	}
	if cf.Func != vanishing.Name() || cf.Attempts != 2 || cf.Last-cf.First != 1 || cf.First != 2*cf.Chunk {
		t.Fatalf("chunk failed error %+v, want 2 attempts of a 2-item chunk of %s", cf, vanishing.Name())
	}
	for _, want := range []string{vanishing.Name(), fmt.Sprintf("chunk %d (items %d-%d)", cf.Chunk, cf.First, cf.Last), "failed 2 times", "gearmand gave up"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
