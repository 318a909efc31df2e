package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const schema = `CREATE TABLE IF NOT EXISTS glimpse_test_rows (k TEXT NOT NULL PRIMARY KEY, v BIGINT NOT NULL)`

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	testDB(t, filepath.Join(t.TempDir(), "shared.db"), store.SQLite)
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	testDB(t, testenv.Postgres(t), store.Postgres)
}

// testDB opens dsn from several goroutines at once (each its own handle,
// as several processes would), migrates from each, and checks that writes
// through one handle are read through another with Q's placeholders.
func testDB(t *testing.T, dsn string, want store.Dialect) {
	ctx := ctxFor(t)
	const n = 4
	dbs := make([]*store.DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range dbs {
		wg.Go(func() {
			if dbs[i], errs[i] = store.Open(ctx, dsn); errs[i] == nil {
				errs[i] = dbs[i].Migrate(ctx, schema)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open/migrate %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	if dbs[0].Dialect != want {
		t.Fatalf("Dialect = %v, want %v", dbs[0].Dialect, want)
	}
	for i, db := range dbs {
		if _, err := db.ExecContext(ctx, db.Q(`INSERT INTO glimpse_test_rows (k, v) VALUES (?, ?) ON CONFLICT DO NOTHING`),
			fmt.Sprint("k", i), i*i); err != nil {
			t.Fatalf("insert through handle %d: %v", i, err)
		}
	}
	var sum int64
	if err := dbs[n-1].QueryRowContext(ctx, `SELECT SUM(v) FROM glimpse_test_rows`).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if sum != 0+1+4+9 {
		t.Fatalf("SUM(v) = %d, want 14", sum)
	}
}

func TestQ(t *testing.T) {
	pg := &store.DB{Dialect: store.Postgres}
	if got := pg.Q(`SELECT a FROM t WHERE b = ? AND c = ?`); got != `SELECT a FROM t WHERE b = $1 AND c = $2` {
		t.Errorf("postgres Q = %q", got)
	}
	lite := &store.DB{Dialect: store.SQLite}
	if got := lite.Q(`WHERE b = ?`); got != `WHERE b = ?` {
		t.Errorf("sqlite Q = %q", got)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	if _, err := store.Open(ctx, ""); !errors.Is(err, store.ErrEmptyPath) {
		t.Errorf("Open(\"\") = %v, want ErrEmptyPath", err)
	}
	missing := filepath.Join(t.TempDir(), "no", "such", "dir", "x.db")
	if _, err := store.Open(ctx, missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Open(%s) = %v, want an error naming the path", missing, err)
	}
	// The password must not appear in the error.
	_, err := store.Open(ctx, "postgres://u:s3cret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open(unreachable postgres) = %v", err)
	}
}
