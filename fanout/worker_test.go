package fanout

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/lifecycle"
	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// A second Run is refused with lifecycle.ErrRunning and leaves the first
// serving; a Run after Close is refused with an error that is both
// ErrWorkerClosed and lifecycle.ErrClosed.
func TestWorkerRunTwiceAndAfterClose(t *testing.T) {
	g := testenv.Gearmand(t)
	w := startWorker(t, []string{g.Addr()}, testConfig(sqlitePath(t)))
	waitServed(t, g.Addr(), FuncSubscribe, true) // the first Run is serving
	err := w.Run()
	if !errors.Is(err, lifecycle.ErrRunning) || !strings.HasPrefix(err.Error(), "fanout: ") {
		t.Fatalf("second Run: %v, want a fanout error wrapping lifecycle.ErrRunning", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := Subscribe(ctx, newClient(t, g.Addr()), "memos", "bob"); err != nil {
		t.Fatalf("subscribe after the refused Run: %v", err)
	}

	closed, err := NewWorker(config.Client{JobServers: []string{g.Addr()}}, testConfig(sqlitePath(t)))
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if err := closed.Run(); !errors.Is(err, ErrWorkerClosed) || !errors.Is(err, lifecycle.ErrClosed) {
		t.Fatalf("Run after Close: %v, want ErrWorkerClosed and lifecycle.ErrClosed", err)
	}
}

// Run, Shutdown and Close racing: every Run returns, the store is closed
// once (a second close of the SQLite handle would fail the race detector
// or panic), and goleak finds nothing left behind.
func TestWorkerConcurrentRunAndStop(t *testing.T) {
	g := testenv.Gearmand(t)
	client := config.Client{JobServers: []string{g.Addr()}}
	for range 10 {
		w, err := NewWorker(client, testConfig(sqlitePath(t)))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				if err := w.Run(); !errors.Is(err, ErrWorkerClosed) && !errors.Is(err, lifecycle.ErrRunning) {
					t.Errorf("Run: %v", err)
				}
			})
		}
		wg.Go(func() { w.Shutdown(context.Background()) })
		wg.Go(func() { w.Close() })
		wg.Wait()
	}
}

// NewWorker takes the job servers as a config.Client and checks it; a
// store given with WithStore makes [fanout] store irrelevant, so an empty
// one is no error, while every other problem is still reported.
func TestNewWorkerChecksConfig(t *testing.T) {
	store, err := OpenStore(sqlitePath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	client := config.Client{JobServers: []string{"127.0.0.1:4730"}}
	noStore := config.Fanout{CopyTimeout: testConfig("").CopyTimeout, PruneAfter: testConfig("").PruneAfter}

	w, err := NewWorker(client, noStore, WithStore(store))
	if err != nil {
		t.Fatalf("NewWorker with WithStore and no [fanout] store: %v", err)
	}
	w.Close()

	for _, tc := range []struct {
		name   string
		client config.Client
		cfg    config.Fanout
		opts   []Option
		want   string // in the error
		absent string // not in the error
	}{
		{"no job servers", config.Client{}, noStore, []Option{WithStore(store)}, "job_server_url", ""},
		{"bad store", client, config.Fanout{Store: "mysql://db/x", CopyTimeout: noStore.CopyTimeout, PruneAfter: noStore.PruneAfter},
			nil, "store", ""},
		{"bad copy timeout with a store given", client, config.Fanout{PruneAfter: noStore.PruneAfter},
			[]Option{WithStore(store)}, "copy_timeout", "store"},
		{"two problems with a store given", client, config.Fanout{},
			[]Option{WithStore(store)}, "prune_after", "store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := NewWorker(tc.client, tc.cfg, tc.opts...)
			if err == nil {
				w.Close()
				t.Fatal("NewWorker accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) || tc.absent != "" && strings.Contains(err.Error(), "] "+tc.absent+":") {
				t.Fatalf("NewWorker: %v; want it to name %q and not %q", err, tc.want, tc.absent)
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("NewWorker: %v; want a *config.Error inside", err)
			}
		})
	}
}

// TestWorkerDefaultStoreInStateDir: with [fanout] store left empty, a real
// fanout worker keeps its SQLite store in $XDG_STATE_HOME/glimpse (created
// 0700), as a 0600 file with 0600 -wal and -shm, and writes nothing into
// the working directory.
func TestWorkerDefaultStoreInStateDir(t *testing.T) {
	g := testenv.Gearmand(t)
	state, cwd := t.TempDir(), t.TempDir()
	t.Setenv("STATE_DIRECTORY", "")
	t.Setenv("XDG_STATE_HOME", state)
	t.Chdir(cwd)
	startWorker(t, []string{g.Addr()}, config.DefaultFanout())
	waitServed(t, g.Addr(), FuncSubscribe, true)
	dir := filepath.Join(state, "glimpse")
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state directory %s: %v, %v; want mode 0700", dir, fi, err)
	}
	for _, name := range []string{"fanout.db", "fanout.db-wal", "fanout.db-shm"} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", name, fi, err)
		}
	}
	if entries, _ := os.ReadDir(cwd); len(entries) != 0 {
		t.Errorf("the fanout worker wrote into its working directory: %v", entries)
	}
}

// TestWorkerRefusesSymlinkedStore: a symlink planted at [fanout] store
// stops NewWorker with an error naming the path; the target is untouched.
func TestWorkerRefusesSymlinkedStore(t *testing.T) {
	dir := t.TempDir()
	target, path := filepath.Join(dir, "victim"), filepath.Join(dir, "fanout.db")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	w, err := NewWorker(config.Client{JobServers: []string{"127.0.0.1:1"}}, testConfig(path))
	if err == nil {
		w.Close()
	}
	var ue *store.UnsafePathError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), path) {
		t.Errorf("NewWorker with a symlinked store: %v, want an UnsafePathError naming %s", err, path)
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the symlink's target was created: %v", err)
	}
}
