package fanout

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/glimpse-go/glimpse/internal/testenv"
)

func TestStoreSQLite(t *testing.T) {
	t.Parallel()
	// A path with characters that a "path?_pragma=..." DSN would garble.
	path := filepath.Join(t.TempDir(), "odd ?#%name.db")
	testStore(t, path)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("SQLite file not at %q: %v", path, err)
	}
}

func TestStorePostgres(t *testing.T) {
	t.Parallel()
	testStore(t, testenv.Postgres(t))
}

func TestStoreMemory(t *testing.T) {
	t.Parallel()
	s, err := OpenStore(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Subscribe(ctx, "t", "a"); err != nil {
		t.Fatal(err)
	}
	if got := storeSubscribers(t, s, "t"); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("Subscribers = %q", got)
	}
}

func TestOpenStoreErrors(t *testing.T) {
	t.Parallel()
	if _, err := OpenStore(""); err == nil {
		t.Error("OpenStore(\"\") succeeded")
	}
	if _, err := OpenStore(filepath.Join(t.TempDir(), "no", "such", "dir", "x.db")); err == nil {
		t.Error("OpenStore in a missing directory succeeded")
	}
	// The password must not appear in the error.
	_, err := OpenStore("postgres://u:s3cret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("OpenStore(unreachable postgres) = %v", err)
	}
}

// testStore runs the Store contract against dsn: idempotent subscribe,
// unsubscribe, sorted listings, Remove, persistence across reopening and
// an idempotent schema, also when opened concurrently.
func testStore(t *testing.T, dsn string) {
	ctx := context.Background()
	var wg sync.WaitGroup
	stores := make([]Store, 3)
	errs := make([]error, 3)
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = OpenStore(dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent OpenStore %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	s := stores[0]
	for _, sub := range []Subscription{{"memos", "bob"}, {"memos", "alice"}, {"memos", "bob"}, {"ping", "w1"}, {"a_b", "c"}} {
		if err := s.Subscribe(ctx, sub.Topic, sub.ClientID); err != nil {
			t.Fatalf("Subscribe %v: %v", sub, err)
		}
	}
	if got := storeSubscribers(t, stores[1], "memos"); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("Subscribers(memos) = %q, want [alice bob]", got)
	}
	if got := storeSubscribers(t, s, "nobody"); len(got) != 0 {
		t.Fatalf("Subscribers(nobody) = %q", got)
	}
	all, err := s.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Subscription{{"a_b", "c"}, {"memos", "alice"}, {"memos", "bob"}, {"ping", "w1"}}
	if !slices.Equal(all, want) {
		t.Fatalf("All = %v, want %v", all, want)
	}
	if err := s.Unsubscribe(ctx, "memos", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.Unsubscribe(ctx, "memos", "bob"); err != nil {
		t.Fatalf("second Unsubscribe: %v", err)
	}
	if err := s.Remove(ctx, Subscription{"ping", "w1"}, Subscription{"a_b", "c"}, Subscription{"ghost", "x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	for _, st := range stores {
		st.Close()
	}
	s, err = OpenStore(dsn)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	all, err = s.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Subscription{{"memos", "alice"}}; !slices.Equal(all, want) {
		t.Fatalf("All after reopening = %v, want %v", all, want)
	}
}

// The SQLite file is shared safely by two processes' worth of stores
// writing at once (WAL and busy_timeout).
func TestStoreSQLiteConcurrentWriters(t *testing.T) {
	t.Parallel()
	path := sqlitePath(t)
	a, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 50 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			if err := s.Subscribe(ctx, "t", string(rune('a'+i%26))+string(rune('a'+i/26))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := storeSubscribers(t, a, "t"); len(got) != 50 {
		t.Fatalf("%d subscribers, want 50", len(got))
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
}
