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

// TestGatewayKeys: the gateway's [http] keys, their defaults, and the
// token from a private file or a private config; a token file or config
// others may read, a short token, both keys, a bad listen address or a
// bound of 0 are errors naming the key.
func TestGatewayKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const client = "[client]\njob_server_url = g1\n"
	const token = "0123456789abcdef-token"
	write("good.token", token+"\n", 0o600)
	write("open.token", token, 0o644)
	write("short.token", "abc", 0o600)

	f, err := Load(write("defaults.ini", client, 0o644))
	if err != nil {
		t.Fatal(err)
	}
	if f.HTTP != DefaultHTTP() || f.HTTP.Listen != "127.0.0.1:8480" {
		t.Errorf("defaults: %+v", f.HTTP)
	}
	f, err = Load(write("full.ini", client+"[http]\nlisten = 0.0.0.0:9000\ntoken_file = good.token\nread_timeout = 5s\nwrite_timeout = 1m\nmax_body = 1000\nmax_concurrent = 3\nshutdown_timeout = 2s\n", 0o644))
	if err != nil {
		t.Fatal(err)
	}
	h := f.HTTP
	if tok, err := h.GatewayToken(); err != nil || string(tok) != token || h.Listen != "0.0.0.0:9000" || h.ReadTimeout.String() != "5s" ||
		h.WriteTimeout.String() != "1m0s" || h.MaxBody != 1000 || h.MaxConcurrent != 3 || h.ShutdownTimeout.String() != "2s" {
		t.Errorf("full: %+v token %q %v", h, tok, err)
	}
	if _, err := Load(write("inline.ini", client+"[http]\ntoken = "+token+"\n", 0o600)); err != nil {
		t.Errorf("inline token in a private config: %v", err)
	}
	for _, tc := range []struct{ name, text, key, says string }{
		{"open.ini", "token = " + token, "token", "others may access it"},
		{"openfile.ini", "token_file = open.token", "token_file", "open.token"},
		{"short.ini", "token_file = short.token", "token_file", "needs at least 16"},
		{"shortinline.ini", "token = abc", "token", "needs at least 16"},
		{"both.ini", "token = " + token + "\ntoken_file = good.token", "token", "keep one"},
		{"listen.ini", "listen = 8480", "listen", "want HOST:PORT"},
		{"body.ini", "max_body = 0", "max_body", "must be positive"},
		{"timeout.ini", "read_timeout = 0s", "read_timeout", "must be positive"},
	} {
		_, err := Load(write(tc.name, client+"[http]\n"+tc.text+"\n", 0o644))
		var ce *Error
		if !errors.As(err, &ce) || ce.Section != "http" || ce.Key != tc.key || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v; want an error of [http] %s saying %q", tc.name, err, tc.key, tc.says)
		}
	}
}
