package testenv

import (
	"path/filepath"
	"testing"

	"github.com/glimpse-go/glimpse/internal/auth"
)

// KeyFile writes a fresh cluster key, mode 0600, in a temporary directory
// and returns it and its path, for a config's key_file.
func KeyFile(t testing.TB) (*auth.Key, string) {
	t.Helper()
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cluster.key")
	if err := k.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return k, path
}
