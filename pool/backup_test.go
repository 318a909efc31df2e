package pool_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/gearmantest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// straggler is a one-slot worker that holds every chunk it takes until
// the test releases it: a worker infinitely slower than the rest.
type straggler struct {
	held    chan struct{} // gets a value each time a chunk is taken
	release chan struct{}
	ran     atomic.Int32 // chunks it returned results for
}

func startStraggler(t *testing.T, addr string) *straggler {
	t.Helper()
	return startStragglerFor(t, addr, funcs.Square.Name())
}

// startStragglerFor is startStraggler for the registered function fn.
func startStragglerFor(t *testing.T, addr, fn string) *straggler {
	t.Helper()
	s := &straggler{held: make(chan struct{}, 100), release: make(chan struct{})}
	w, err := gearman.NewWorker([]string{addr}, gearman.WithConcurrency(1),
		gearman.WithClientID(wire.WorkerClientID("straggler", 1)))
	if err != nil {
		t.Fatal(err)
	}
	f, _ := wire.Lookup(fn)
	w.Register(f.GearmanName(), func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		s.held <- struct{}{}
		<-s.release
		s.ran.Add(1)
		return f.RunChunk(ctx, j.Data, "straggler")
	})
	done := make(chan error, 1)
	go func() { done <- w.Run() }()
	t.Cleanup(func() {
		s.releaseAll()
		w.Close()
		<-done
	})
	return s
}

func (s *straggler) releaseAll() {
	select {
	case <-s.release:
	default:
		close(s.release)
	}
}

// TestBackupTasksBeatAStraggler: a worker that holds its chunk forever
// would stall the map; with BackupTasks the chunk is run again by an idle
// worker, the map returns while the straggler still holds its copy, and
// the straggler's late answer changes nothing. Without the option the map
// waits for the straggler.
func TestBackupTasksBeatAStraggler(t *testing.T) {
	for _, backup := range []bool{true, false} {
		name := map[bool]string{true: "backup", false: "no backup"}[backup]
		t.Run(name, func(t *testing.T) {
			addr := gearmand(t)
			s := startStraggler(t, addr)
			p, err := pool.New(config.Client{JobServers: []string{addr}}, pool.WithNoWorkersGrace(200*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			waitSlots(t, p, funcs.Square.Name(), 1)

			const n = 1000
			opts := []pool.MapOption{pool.Chunksize(25)}
			if backup {
				opts = append(opts, pool.BackupTasks())
			}
			var released atomic.Bool
			type result struct {
				got []int64
				err error
			}
			resc := make(chan result, 1)
			go func() {
				got, err := pool.Map(testenv.Context(t), p, funcs.Square, ints(n), opts...)
				resc <- result{got, err}
			}()
			// The straggler takes the first chunk before anyone else can
			// run; then the fast workers come and do the rest.
			<-s.held
			startWorker(t, 1, addr)
			startWorker(t, 1, addr)

			var res result
			if backup {
				res = <-resc
				if released.Load() || s.ran.Load() != 0 {
					t.Fatal("the map waited for the straggler")
				}
			} else {
				// Every other chunk gets done; the map still waits.
				waitQueueEmpty(t, addr, wire.GearmanPrefix+funcs.Square.Name(), 1)
				select {
				case res = <-resc:
					t.Fatalf("the map returned (%v) while a chunk was held", res.err)
				default:
				}
				released.Store(true)
				s.releaseAll()
				res = <-resc
			}
			if res.err != nil {
				t.Fatal(res.err)
			}
			if len(res.got) != n {
				t.Fatalf("%d results, want %d", len(res.got), n)
			}
			for i, v := range res.got {
				if v != int64(i)*int64(i) {
					t.Fatalf("result %d = %d", i, v)
				}
			}
			// The straggler's copy ends after the map; the pool goes on.
			s.releaseAll()
			got, err := pool.Map(testenv.Context(t), p, funcs.Square, ints(100), pool.Chunksize(10))
			if err != nil || len(got) != 100 || got[99] != 99*99 {
				t.Fatalf("next map: %d results, %v", len(got), err)
			}
		})
	}
}

// waitQueueEmpty waits until the function's jobs are all running: none
// queued, want running (gearmand's admin status).
func waitQueueEmpty(t *testing.T, addr, fn string, running int) {
	t.Helper()
	ctx := testenv.Context(t)
	testenv.Eventually(t, ctx, fmt.Sprintf("%d jobs of %s, all running", running, fn), func() (bool, error) {
		st, err := gearmantest.FunctionStatus(ctx, addr, fn)
		return err == nil && st.Queued == running && st.Running == running, err
	})
}
