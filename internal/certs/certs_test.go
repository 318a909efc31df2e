package certs_test

import (
	"crypto/x509"
	"errors"
	"os"
	"testing"

	"github.com/glimpse-go/glimpse/internal/certs"
)

// TestIssueAndWrite: a server certificate verifies for its IP and DNS
// names against the CA only, a client certificate for client auth; the
// key file is mode 0600 and an existing file is never overwritten.
func TestIssueAndWrite(t *testing.T) {
	ca, err := certs.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Server("127.0.0.1", "gear.internal")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"127.0.0.1", "gear.internal"} {
		if _, err := server.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name}); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	if _, err := server.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "other"}); err == nil {
		t.Error("server certificate verifies for a name it does not carry")
	}
	client, err := ca.Client("worker")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	dir := t.TempDir()
	_, keyFile, err := certs.WritePair(dir, "server", server)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	if _, _, err := certs.WritePair(dir, "server", server); !errors.Is(err, os.ErrExist) {
		t.Errorf("writing over existing files: %v; want os.ErrExist", err)
	}
	if _, err := ca.Server(); err == nil {
		t.Error("a server certificate for no host")
	}
}
