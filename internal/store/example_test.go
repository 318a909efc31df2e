package store_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/glimpse-go/glimpse/internal/store"
)

// A room opens the shared database and creates its own tables.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "store-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	db, err := store.Open(ctx, filepath.Join(dir, "cluster.db")) // or postgres://...
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx, `CREATE TABLE IF NOT EXISTS glimpse_example_notes (id BIGINT PRIMARY KEY, text TEXT NOT NULL)`); err != nil {
		log.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, db.Q(`INSERT INTO glimpse_example_notes (id, text) VALUES (?, ?)`), 1, "hello"); err != nil {
		log.Fatal(err)
	}
	var text string
	if err := db.QueryRowContext(ctx, db.Q(`SELECT text FROM glimpse_example_notes WHERE id = ?`), 1).Scan(&text); err != nil {
		log.Fatal(err)
	}
	fmt.Println(text, db.Dialect == store.SQLite)
	// Output: hello true
}

// Open refuses an SQLite path someone could have redirected: here a
// symlink planted where the store would be created.
func ExampleUnsafePathError() {
	dir, err := os.MkdirTemp("", "store-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "fanout.db")
	if err := os.Symlink("/etc/passwd", path); err != nil {
		log.Fatal(err)
	}
	_, err = store.Open(context.Background(), path)
	var ue *store.UnsafePathError
	fmt.Println(errors.As(err, &ue), ue.Path == path, ue.Reason)
	// Output:
	// true true is a symbolic link
}

// A writer that must answer quickly moves the WAL checkpoints of its
// SQLite file to the background: its commits then checkpoint only past
// CheckpointBackstop pages.
func ExampleDB_StartCheckpointer() {
	dir, err := os.MkdirTemp("", "store-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(dir, "cluster.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	stop, err := db.StartCheckpointer(ctx, 200*time.Millisecond)
	if err != nil {
		log.Fatal(err)
	}
	defer stop() // before db.Close
	var pages int
	if err := db.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&pages); err != nil {
		log.Fatal(err)
	}
	fmt.Println(pages == store.CheckpointBackstop)
	// Output: true
}
