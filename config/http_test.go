package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glimpse-go/glimpse/internal/auth"
)

// TestWebhookSecret: the secret comes from a private file or a private
// config; a file or config others may read, a short secret, both keys,
// or a bad webhooks value are errors naming the key.
func TestWebhookSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const client = "[client]\njob_server_url = g1\n"
	const secret = "0123456789abcdef0123456789abcdef"
	write("good.secret", "  "+secret+"\n", 0o600)
	write("open.secret", secret, 0o640)
	write("short.secret", "abc\n", 0o600)

	f, err := Load(write("file.ini", client+"[http]\nwebhook_secret_file = good.secret\n", 0o644))
	if err != nil {
		t.Fatal(err)
	}
	if key, err := f.HTTP.WebhookKey(); err != nil || string(key) != secret {
		t.Errorf("WebhookKey = %q, %v; want the file's secret without white space", key, err)
	}
	if f.HTTP.WebhookSecretFile != filepath.Join(dir, "good.secret") || !f.Worker.Webhooks {
		t.Errorf("[http] %+v, webhooks %v", f.HTTP, f.Worker.Webhooks)
	}
	f, err = Load(write("inline.ini", client+"[http]\nwebhook_secret = "+secret+"\n", 0o600))
	if key, _ := f.HTTP.WebhookKey(); err != nil || string(key) != secret {
		t.Errorf("inline secret: %q, %v", key, err)
	}

	var pe *auth.PermissionError
	if _, err := Load(write("open.ini", client+"[http]\nwebhook_secret = "+secret+"\n", 0o644)); !errors.As(err, &pe) ||
		!strings.Contains(err.Error(), "webhook_secret") {
		t.Errorf("an inline secret in a config of mode 0644: %v", err)
	}
	for _, tc := range []struct{ text, want string }{
		{"[http]\nwebhook_secret_file = open.secret\n", "[http] webhook_secret_file: auth: " + filepath.Join(dir, "open.secret") + " has mode 0640"},
		{"[http]\nwebhook_secret_file = short.secret\n", "[http] webhook_secret_file: " + filepath.Join(dir, "short.secret") + " holds 3 bytes"},
		{"[http]\nwebhook_secret_file = missing.secret\n", "[http] webhook_secret_file: auth: lstat"},
		{"[http]\nwebhook_secret = short\n", "[http] webhook_secret: 5 bytes: a webhook secret needs at least 16"},
		{"[http]\nwebhook_secret = " + secret + "\nwebhook_secret_file = good.secret\n", "[http] webhook_secret: given with webhook_secret_file: keep one"},
		{"[http]\nwebhook_timeout = 0s\n", "[http] webhook_timeout: 0s: must be positive"},
		{"[http]\nwebhook_secrets = x\n", "[http] webhook_secrets: unknown key; [http] takes webhook_secret, webhook_secret_file, webhook_timeout"},
		{"[worker]\nwebhooks = maybe\n", `[worker] webhooks: "maybe": want true or false`},
	} {
		_, err := Load(write("bad.ini", client+tc.text, 0o600))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.text, err, tc.want)
		}
	}
}
