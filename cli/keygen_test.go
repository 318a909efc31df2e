package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glimpse-go/glimpse/config"
)

func TestKeygenWritesAKeyTheConfigAccepts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc")
	code, out, errOut := runCLI(t, "keygen", "-o", dir)
	if code != exitOK {
		t.Fatalf("keygen: exit %d, stderr %q", code, errOut)
	}
	key := filepath.Join(dir, keyFileName)
	fi, err := os.Stat(key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %s: %v, mode %v; want mode 0600", key, err, fi.Mode().Perm())
	}
	if !strings.Contains(out, "key_file = "+key) {
		t.Errorf("keygen did not print the config line; stdout:\n%s", out)
	}
	cfg := filepath.Join(dir, "config.ini")
	os.WriteFile(cfg, []byte("[client]\njob_server_url = 127.0.0.1:4730\nkey_file = "+keyFileName+"\n"), 0o600)
	if _, err := config.Load(cfg); err != nil {
		t.Errorf("a config naming the new key: %v", err)
	}
	if code, _, errOut := runCLI(t, "keygen", "-o", dir); code != exitFailure || !strings.Contains(errOut, "exists") {
		t.Errorf("a second keygen into %s: exit %d, stderr %q; want exit 1 (never overwrite a key)", dir, code, errOut)
	}
}
