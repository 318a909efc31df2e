package config

import (
	"bytes"
	"fmt"
	"net"
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

	keyListen          = "listen"
	keyToken           = "token"
	keyTokenFile       = "token_file"
	keyReadTimeout     = "read_timeout"
	keyWriteTimeout    = "write_timeout"
	keyMaxBody         = "max_body"
	keyMaxConcurrent   = "max_concurrent"
	keyGatewayShutdown = "shutdown_timeout"
)

// Defaults of the gateway's [http] keys.
const (
	DefaultHTTPListen          = "127.0.0.1:8480"
	DefaultHTTPReadTimeout     = time.Minute
	DefaultHTTPWriteTimeout    = 10 * time.Minute
	DefaultHTTPMaxBody         = 64 << 20
	DefaultHTTPMaxConcurrent   = 256
	DefaultHTTPShutdownTimeout = 30 * time.Second
)

// MinToken is the shortest gateway token accepted, in bytes.
const MinToken = 16

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

	// The gateway's keys (glimpse-cluster http).

	// Listen (listen) is the gateway's host:port (default 127.0.0.1:8480,
	// loopback only).
	Listen string
	// Token (token) or TokenFile (token_file, private like
	// webhook_secret_file) is the bearer token every request but
	// /healthz and /readyz must carry; neither: no token asked.
	Token     string
	TokenFile string
	// ReadTimeout (read_timeout) bounds reading a request, body
	// included; WriteTimeout (write_timeout) bounds a request from its
	// end to the end of its answer (a long map's included).
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// MaxBody (max_body) is the largest request body, in bytes (413
	// above it).
	MaxBody int
	// MaxConcurrent (max_concurrent) bounds the requests served at once
	// (429 above it).
	MaxConcurrent int
	// ShutdownTimeout (shutdown_timeout) bounds how long the requests in
	// flight may take to finish after SIGTERM.
	ShutdownTimeout time.Duration
}

// DefaultHTTP is the [http] section of a file that has none.
func DefaultHTTP() HTTP {
	return HTTP{WebhookTimeout: DefaultWebhookTimeout, Listen: DefaultHTTPListen,
		ReadTimeout: DefaultHTTPReadTimeout, WriteTimeout: DefaultHTTPWriteTimeout,
		MaxBody: DefaultHTTPMaxBody, MaxConcurrent: DefaultHTTPMaxConcurrent,
		ShutdownTimeout: DefaultHTTPShutdownTimeout}
}

// GatewayToken returns the gateway's bearer token: the value of token, or
// what token_file holds (read now, with its permissions checked); nil
// when neither is set.
func (h HTTP) GatewayToken() ([]byte, error) {
	if h.Token != "" {
		return []byte(h.Token), nil
	}
	if h.TokenFile == "" {
		return nil, nil
	}
	return readPrivateFile(h.TokenFile, "a gateway token", MinToken)
}

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
	return readPrivateFile(path, "a webhook secret", MinWebhookSecret)
}

// readPrivateFile reads a secret of at least minLen bytes (what names
// it) from a file that only its owner may access.
func readPrivateFile(path, what string, minLen int) ([]byte, error) {
	if err := auth.CheckPrivateFile(path, secretModeForbidden); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, unwrapPath(err)
	}
	secret := bytes.TrimSpace(data)
	if len(secret) < minLen {
		return nil, fmt.Errorf("%s holds %d bytes: %s needs at least %d (for example: openssl rand -hex 32)", path, len(secret), what, minLen)
	}
	return secret, nil
}

func (p *parser) http(v map[string]string) {
	h := &p.file.HTTP
	p.duration(secHTTP, keyWebhookTimeout, v, &h.WebhookTimeout)
	if err := checkPositive(h.WebhookTimeout); err != nil {
		p.fail(secHTTP, keyWebhookTimeout, err)
	}
	p.webhookSecret(v)
	p.gateway(v)
}

func (p *parser) webhookSecret(v map[string]string) {
	h := &p.file.HTTP
	p.secret(v, secretKeys{keyWebhookSecret, keyWebhookSecretFile, "a webhook secret", MinWebhookSecret},
		&h.WebhookSecret, &h.WebhookSecretFile, func() error {
			_, err := readSecretFile(h.WebhookSecretFile)
			return err
		})
}

// secretKeys name a secret's two keys in [http]: inline, or in a file.
type secretKeys struct {
	inline, file string
	what         string // "a webhook secret"
	min          int    // its least length in bytes
}

// secret reads a secret given inline (into inline) or as a file (its
// path into file, then checked by checkFile), at most one of the two.
func (p *parser) secret(v map[string]string, k secretKeys, inline, file *string, checkFile func() error) {
	value, isInline := v[k.inline]
	path, inFile := v[k.file]
	switch {
	case isInline && inFile:
		p.fail(secHTTP, k.inline, fmt.Errorf("given with %s: keep one", k.file))
	case isInline && len(value) < k.min:
		p.fail(secHTTP, k.inline, fmt.Errorf("%d bytes: %s needs at least %d (for example: openssl rand -hex 32)", len(value), k.what, k.min))
	case isInline:
		*inline = value
	case inFile:
		*file = p.filePath(path)
		if err := checkFile(); err != nil {
			p.fail(secHTTP, k.file, err)
		}
	}
}

// gateway reads the gateway's keys of [http].
func (p *parser) gateway(v map[string]string) {
	h := &p.file.HTTP
	if s, ok := v[keyListen]; ok {
		if _, _, err := net.SplitHostPort(s); err != nil || s == "" {
			p.fail(secHTTP, keyListen, fmt.Errorf("%q: want HOST:PORT (for example 127.0.0.1:8480)", s))
		} else {
			h.Listen = s
		}
	}
	for _, d := range []struct {
		key string
		dst *time.Duration
	}{{keyReadTimeout, &h.ReadTimeout}, {keyWriteTimeout, &h.WriteTimeout}, {keyGatewayShutdown, &h.ShutdownTimeout}} {
		p.duration(secHTTP, d.key, v, d.dst)
		if err := checkPositive(*d.dst); err != nil {
			p.fail(secHTTP, d.key, err)
		}
	}
	for _, n := range []struct {
		key string
		dst *int
	}{{keyMaxBody, &h.MaxBody}, {keyMaxConcurrent, &h.MaxConcurrent}} {
		p.integer(secHTTP, n.key, v, n.dst)
		if *n.dst <= 0 {
			p.fail(secHTTP, n.key, fmt.Errorf("%d: must be positive", *n.dst))
		}
	}
	p.gatewayToken(v)
}

func (p *parser) gatewayToken(v map[string]string) {
	h := &p.file.HTTP
	p.secret(v, secretKeys{keyToken, keyTokenFile, "a gateway token", MinToken}, &h.Token, &h.TokenFile, func() error {
		_, err := h.GatewayToken()
		return err
	})
}

// worker's webhooks key.
func (p *parser) webhooks(v map[string]string) {
	p.boolean(secWorker, keyWebhooks, v, &p.file.Worker.Webhooks)
}

// checkSecretConfigPrivate refuses a config file that holds a webhook
// secret and that others may read or change.
func checkSecretConfigPrivate(path string) error {
	return checkConfigHoldsPrivate(path, keyWebhookSecret, "a webhook secret", "webhook_secret_file")
}

// checkTokenConfigPrivate refuses a config file that holds a gateway
// token and that others may read or change.
func checkTokenConfigPrivate(path string) error {
	return checkConfigHoldsPrivate(path, keyToken, "a gateway token", "token_file")
}

func checkConfigHoldsPrivate(path, key, what, fileKey string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return &Error{File: path, Err: err}
	}
	if perm := fi.Mode().Perm(); perm&secretModeForbidden != 0 {
		return &Error{File: path, Section: secHTTP, Key: key, Err: &auth.PermissionError{Path: path,
			Reason: fmt.Sprintf("holds %s but has mode %04o: others may access it (or use %s)", what, perm, fileKey)}}
	}
	return nil
}
