package store_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glimpse-go/glimpse/internal/store"
)

// TestOpenCreatesPrivateFiles: a new SQLite store and the -wal and -shm
// files SQLite adds are readable by their owner only.
func TestOpenCreatesPrivateFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	db, err := store.Open(ctxFor(t), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctxFor(t), schema); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO glimpse_test_rows (k, v) VALUES ('a', 1)`); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
}

// TestOpenRefusesSymlink: a symlink planted at the store path (or its -wal)
// is refused with an error naming it, and its target is left untouched.
func TestOpenRefusesSymlink(t *testing.T) {
	for _, planted := range []string{"", "-wal"} {
		dir := t.TempDir()
		target := filepath.Join(dir, "victim")
		if err := os.WriteFile(target, []byte("precious"), 0o644); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "fanout.db")
		if planted != "" {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(target, path+planted); err != nil {
			t.Fatal(err)
		}
		db, err := store.Open(ctxFor(t), path)
		if err == nil {
			db.Close()
		}
		var ue *store.UnsafePathError
		if !errors.As(err, &ue) || ue.Path != path+planted || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("symlink at %s: Open error = %v, want an UnsafePathError naming it", filepath.Base(path+planted), err)
		}
		if data, _ := os.ReadFile(target); string(data) != "precious" {
			t.Errorf("symlink target changed: %q", data)
		}
		if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o644 {
			t.Errorf("symlink target mode changed: %v", fi.Mode().Perm())
		}
	}
}

// TestOpenRefusesWritableDir: a directory others may write to could have
// the file swapped; one with the sticky bit (as /tmp) is fine.
func TestOpenRefusesWritableDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "fanout.db")
	db, err := store.Open(ctxFor(t), path)
	if err == nil {
		db.Close()
	}
	var ue *store.UnsafePathError
	if !errors.As(err, &ue) || ue.Path != dir {
		t.Errorf("world-writable dir: Open error = %v, want an UnsafePathError naming %s", err, dir)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("store file created in the refused directory: %v", err)
	}
	if err := os.Chmod(dir, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(ctxFor(t), path)
	if err != nil {
		t.Fatalf("sticky dir: %v", err)
	}
	db.Close()
}
