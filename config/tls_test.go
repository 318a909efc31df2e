package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glimpse-go/glimpse/internal/certs"
)

// tlsFiles writes a CA certificate and a client certificate and key into a
// temp dir, and returns the CA and the three paths.
func tlsFiles(t *testing.T) (ca *certs.CA, caFile, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	ca, err := certs.NewCA("config test CA")
	if err != nil {
		t.Fatal(err)
	}
	if caFile, err = ca.WriteCA(dir, "ca.pem"); err != nil {
		t.Fatal(err)
	}
	client, err := ca.Client("a worker")
	if err != nil {
		t.Fatal(err)
	}
	if certFile, keyFile, err = certs.WritePair(dir, "client", client); err != nil {
		t.Fatal(err)
	}
	return ca, caFile, certFile, keyFile
}

// TestParseTLS: the tls keys give a TLSConfig that trusts the CA file's
// CA only, presents the client certificate and checks the server name.
func TestParseTLS(t *testing.T) {
	ca, caFile, certFile, keyFile := tlsFiles(t)
	text := "[client]\njob_server_url = gear1:4731\ntls = yes\ntls_ca_file = " + caFile +
		"\ntls_cert_file = " + certFile + "\ntls_key_file = " + keyFile + "\ntls_server_name = gear.internal\n"
	f, err := Parse("config.ini", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	c := f.Client
	if !c.TLS || c.TLSCAFile != caFile || c.TLSCertFile != certFile || c.TLSKeyFile != keyFile || c.TLSServerName != "gear.internal" {
		t.Fatalf("parsed %+v", c)
	}
	conf, err := c.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if conf.ServerName != "gear.internal" || len(conf.Certificates) != 1 || conf.ClientSessionCache == nil || conf.MinVersion != tls.VersionTLS12 {
		t.Fatalf("TLSConfig = %+v", conf)
	}
	server, err := ca.Server("gear.internal")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Leaf.Verify(x509.VerifyOptions{Roots: conf.RootCAs, DNSName: "gear.internal"}); err != nil {
		t.Fatalf("a certificate from the CA file does not verify with RootCAs: %v", err)
	}
	other, _ := certs.NewCA("other")
	stranger, _ := other.Server("gear.internal")
	if _, err := stranger.Leaf.Verify(x509.VerifyOptions{Roots: conf.RootCAs, DNSName: "gear.internal"}); err == nil {
		t.Fatal("RootCAs trusts a certificate of another CA")
	}
}

// TestTLSOff: without tls, TLSConfig is nil: plaintext.
func TestTLSOff(t *testing.T) {
	for _, text := range []string{"[client]\njob_server_url = g:1\n", "[client]\njob_server_url = g:1\ntls = off\n"} {
		f, err := Parse("config.ini", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if conf, err := f.Client.TLSConfig(); conf != nil || err != nil {
			t.Errorf("%q: TLSConfig = %v, %v; want nil, nil", text, conf, err)
		}
	}
}

// TestTLSErrors: each mistake in the tls keys is an *Error naming the
// file, line, section and key, and saying what is wrong.
func TestTLSErrors(t *testing.T) {
	_, caFile, certFile, keyFile := tlsFiles(t)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate\n"), 0o644)
	cases := []struct{ name, keys, want string }{
		{"bad bool", "tls = maybe", `config.ini:3: [client] tls: "maybe": want true or false`},
		{"file without tls", "tls_ca_file = " + caFile, "config.ini:3: [client] tls_ca_file: set, but tls is off"},
		{"server name without tls", "tls = false\ntls_server_name = g", "config.ini:4: [client] tls_server_name: set, but tls is off"},
		{"cert without key", "tls = true\ntls_cert_file = " + certFile, "[client] tls_key_file: missing: tls_cert_file is set"},
		{"key without cert", "tls = true\ntls_key_file = " + keyFile, "[client] tls_cert_file: missing: tls_key_file is set"},
		{"missing CA file", "tls = true\ntls_ca_file = /nonexistent/ca.pem",
			`config.ini:4: [client] tls_ca_file: "/nonexistent/ca.pem": cannot read: no such file or directory`},
		{"CA file without PEM", "tls = true\ntls_ca_file = " + garbage, "config.ini:4: [client] tls_ca_file: \"" + garbage + "\": no PEM certificate"},
		{"cert that is no certificate", "tls = true\ntls_cert_file = " + garbage + "\ntls_key_file = " + keyFile,
			"config.ini:4: [client] tls_cert_file: \"" + garbage + "\" with tls_key_file"},
		{"key of another certificate", "tls = true\ntls_cert_file = " + certFile + "\ntls_key_file = " + otherKey(t),
			"private key does not match public key"},
		{"bad server name", "tls = true\ntls_server_name = not a host", `[client] tls_server_name: "not a host"`},
	}
	for _, tc := range cases {
		_, err := Parse("config.ini", []byte("[client]\njob_server_url = g:1\n"+tc.keys+"\n"))
		var e *Error
		if err == nil || !errors.As(err, &e) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v; want an *Error containing %q", tc.name, err, tc.want)
		}
	}
}

func otherKey(t *testing.T) string {
	t.Helper()
	_, _, _, keyFile := tlsFiles(t)
	return keyFile
}

// TestClientBuiltInCodeTLS: Validate applies the same rules to a Client
// built in code, and TLSConfig reports an unreadable file by its key.
func TestClientBuiltInCodeTLS(t *testing.T) {
	c := Client{JobServers: []string{"g:1"}, TLSCAFile: "/x/ca.pem"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "[client] tls_ca_file: set, but tls is off") {
		t.Errorf("Validate: %v", err)
	}
	c.TLS = true
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v (files are read by TLSConfig)", err)
	}
	_, err := c.TLSConfig()
	var e *Error
	if !errors.As(err, &e) || e.Key != keyTLSCAFile || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("TLSConfig: %v; want an *Error for tls_ca_file wrapping os.ErrNotExist", err)
	}
}
