package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glimpse-go/glimpse/internal/auth"
)

// writeKeyed writes a key and a config naming it (by a path relative to
// the config) into a new directory, with the given modes.
func writeKeyed(t *testing.T, keyMode, configMode os.FileMode) (dir, config string) {
	t.Helper()
	dir = t.TempDir()
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.WriteFile(filepath.Join(dir, "cluster.key")); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, "cluster.key"), keyMode)
	config = filepath.Join(dir, "config.ini")
	os.WriteFile(config, []byte("[client]\njob_server_url = 127.0.0.1:4730\nkey_file = cluster.key\n"), configMode)
	os.Chmod(config, configMode)
	return dir, config
}

func TestKeyFileIsResolvedNextToTheConfig(t *testing.T) {
	dir, path := writeKeyed(t, 0o600, 0o600)
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "cluster.key"); f.Client.KeyFile != want {
		t.Errorf("KeyFile = %q, want %q (relative to the config file)", f.Client.KeyFile, want)
	}
}

func TestKeyedConfigRefusesWhatOthersCanRead(t *testing.T) {
	for _, tc := range []struct {
		name                string
		keyMode, configMode os.FileMode
		line                string // the error's "[section] key" part
	}{
		{"key readable by the group", 0o640, 0o600, "[client] key_file"},
		{"config readable by others", 0o600, 0o644, "[client] key_file"},
		{"config writable by the group", 0o600, 0o660, "[client] key_file"},
	} {
		_, path := writeKeyed(t, tc.keyMode, tc.configMode)
		_, err := Load(path)
		var pe *auth.PermissionError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.line) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: Load = %v; want a *auth.PermissionError naming %s and %s", tc.name, err, path, tc.line)
		}
	}
	// Without a key a world-readable config is fine: it holds no secret.
	dir := t.TempDir()
	plain := filepath.Join(dir, "config.ini")
	os.WriteFile(plain, []byte("[client]\njob_server_url = 127.0.0.1:4730\n"), 0o644)
	if _, err := Load(plain); err != nil {
		t.Errorf("a keyless config of mode 0644 was refused: %v", err)
	}
}
