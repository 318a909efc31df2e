package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/glimpse-go/glimpse/internal/auth"
)

// The [http] section (the gateway's and its webhooks'), and the [worker]
// key that turns the built-in webhook function off.
const (
	secHTTP = "http"

	keyWebhookSecret     = "webhook_secret"
	keyWebhookSecretFile = "webhook_secret_file"
	keyWebhookTimeout    = "webhook_timeout"

	keyWebhooks = "webhooks"
)

// DefaultWebhookTimeout ([http] webhook_timeout) bounds a webhook call
// whose task gives no timeout.
const DefaultWebhookTimeout = 30 * time.Second

// MinWebhookSecret is the shortest webhook secret accepted, in bytes.
const MinWebhookSecret = 16

// secretModeForbidden: nobody but the owner may read or change a webhook
// secret file, or a config file that holds the secret itself.
const secretModeForbidden = 0o077

// HTTP is the optional [http] section.
type HTTP struct {
	// WebhookSecret (webhook_secret) signs webhook calls; a config file
	// that holds it must be private (chmod 600). Prefer
	// WebhookSecretFile.
	WebhookSecret string
	// WebhookSecretFile (webhook_secret_file) is a file holding the
	// secret (surrounding white space dropped), private to its owner
	// (chmod 600), relative to the config file's directory. One of the
	// two keys at most.
	WebhookSecretFile string
	// WebhookTimeout (webhook_timeout) bounds a webhook call whose task
	// gives no timeout (default 30s).
	WebhookTimeout time.Duration
}

// DefaultHTTP is the [http] section of a file that has none.
func DefaultHTTP() HTTP { return HTTP{WebhookTimeout: DefaultWebhookTimeout} }

// WebhookKey returns the webhook secret: the value of webhook_secret, or
// what webhook_secret_file holds (read now, with its permissions
// checked); nil when neither is set.
func (h HTTP) WebhookKey() ([]byte, error) {
	if h.WebhookSecret != "" {
		return []byte(h.WebhookSecret), nil
	}
	if h.WebhookSecretFile == "" {
		return nil, nil
	}
	return readSecretFile(h.WebhookSecretFile)
}

func readSecretFile(path string) ([]byte, error) {
	if err := auth.CheckPrivateFile(path, secretModeForbidden); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, unwrapPath(err)
	}
	secret := bytes.TrimSpace(data)
	if len(secret) < MinWebhookSecret {
		return nil, fmt.Errorf("%s holds %d bytes: a webhook secret needs at least %d (for example: openssl rand -hex 32)", path, len(secret), MinWebhookSecret)
	}
	return secret, nil
}

func (p *parser) http(v map[string]string) {
	h := &p.file.HTTP
	p.duration(secHTTP, keyWebhookTimeout, v, &h.WebhookTimeout)
	if err := checkPositive(h.WebhookTimeout); err != nil {
		p.fail(secHTTP, keyWebhookTimeout, err)
	}
	secret, inline := v[keyWebhookSecret]
	file, inFile := v[keyWebhookSecretFile]
	switch {
	case inline && inFile:
		p.fail(secHTTP, keyWebhookSecret, errors.New("given with webhook_secret_file: keep one"))
	case inline && len(secret) < MinWebhookSecret:
		p.fail(secHTTP, keyWebhookSecret, fmt.Errorf("%d bytes: a webhook secret needs at least %d (for example: openssl rand -hex 32)", len(secret), MinWebhookSecret))
	case inline:
		h.WebhookSecret = secret
	case inFile:
		h.WebhookSecretFile = p.filePath(file)
		if _, err := readSecretFile(h.WebhookSecretFile); err != nil {
			p.fail(secHTTP, keyWebhookSecretFile, err)
		}
	}
}

// worker's webhooks key.
func (p *parser) webhooks(v map[string]string) {
	if s, ok := v[keyWebhooks]; ok {
		b, err := parseBool(s)
		if err != nil {
			p.fail(secWorker, keyWebhooks, err)
			return
		}
		p.file.Worker.Webhooks = b
	}
}

// checkSecretConfigPrivate refuses a config file that holds a webhook
// secret and that others may read or change.
func checkSecretConfigPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return &Error{File: path, Err: err}
	}
	if perm := fi.Mode().Perm(); perm&secretModeForbidden != 0 {
		return &Error{File: path, Section: secHTTP, Key: keyWebhookSecret, Err: &auth.PermissionError{Path: path,
			Reason: fmt.Sprintf("holds a webhook secret but has mode %04o: others may access it (or use webhook_secret_file)", perm)}}
	}
	return nil
}
