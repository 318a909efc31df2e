package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// KeySize is the length of a cluster key's secret in bytes.
const KeySize = 32

// keyFileHeader starts every key file, so that a wrong file (a TLS key, a
// config) is refused by name rather than used as a secret.
const keyFileHeader = "glimpse-cluster-key-v1 "

// Key is a cluster key. Its zero value is not a key; make one with
// GenerateKey, LoadKey or ParseKey. A Key is safe for concurrent use.
type Key struct {
	secret [KeySize]byte
	id     string
}

// GenerateKey returns a fresh random key.
func GenerateKey() (*Key, error) {
	var k Key
	if _, err := rand.Read(k.secret[:]); err != nil {
		return nil, fmt.Errorf("auth: generating a key: %w", err)
	}
	k.id = keyID(k.secret)
	return &k, nil
}

// keyID names a key without revealing it: the first 8 bytes of an HMAC
// of a fixed label, in hex. Two processes with different keys see
// different ids, so a refusal can say "signed with key 3f2a..., this
// process has c81e...".
func keyID(secret [KeySize]byte) string {
	m := hmac.New(sha256.New, secret[:])
	m.Write([]byte("glimpse key id"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// ID is the key's public name: 16 hex digits that identify it and reveal
// nothing of the secret.
func (k *Key) ID() string { return k.id }

// MarshalText returns the key file's contents.
func (k *Key) MarshalText() ([]byte, error) {
	return []byte(keyFileHeader + base64.StdEncoding.EncodeToString(k.secret[:]) + "\n"), nil
}

// ParseKey reads a key from what MarshalText wrote.
func ParseKey(data []byte) (*Key, error) {
	rest, ok := bytes.CutPrefix(bytes.TrimSpace(data), []byte(keyFileHeader))
	if !ok {
		return nil, fmt.Errorf("%w: want a line starting %q (made by glimpse-cluster keygen)", ErrBadKeyFile, keyFileHeader)
	}
	raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(rest)))
	if err != nil || len(raw) != KeySize {
		return nil, fmt.Errorf("%w: want %d bytes in base64", ErrBadKeyFile, KeySize)
	}
	var k Key
	copy(k.secret[:], raw)
	k.id = keyID(k.secret)
	return &k, nil
}

// ErrBadKeyFile is wrapped by LoadKey and ParseKey for a file that does
// not hold a key.
var ErrBadKeyFile = errors.New("not a glimpse cluster key")

// LoadKey reads the key file at path. Like ssh with a private key, it
// refuses a file that others may read or write, or that is not the
// user's own regular file (a *PermissionError).
func LoadKey(path string) (*Key, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, &PermissionError{Path: path, Reason: "is a symbolic link"}
		}
		return nil, fmt.Errorf("auth: key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("auth: key file: %w", err)
	}
	if err := checkPrivate(path, fi, 0o077); err != nil {
		return nil, err
	}
	data := make([]byte, 4096)
	n, _ := f.Read(data)
	k, err := ParseKey(data[:n])
	if err != nil {
		return nil, fmt.Errorf("auth: key file %s: %w", path, err)
	}
	return k, nil
}

// WriteFile writes the key to a new file at path, mode 0600. It refuses
// to overwrite a file or follow a symbolic link.
func (k *Key) WriteFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("auth: writing the key: %w", err)
	}
	text, _ := k.MarshalText()
	_, err = f.Write(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("auth: writing the key: %w", err)
	}
	return nil
}

// Derive returns 32 bytes derived from the key for one use, named by
// label (for example the ZeroMQ CURVE secret keys). Different labels give
// unrelated bytes; nobody without the key can compute them.
func (k *Key) Derive(label string) [32]byte {
	m := hmac.New(sha256.New, k.secret[:])
	m.Write([]byte("glimpse derive\x00" + label))
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}

// LoadKeyFile is LoadKey for a config's key_file: nil and no error when
// path is empty (a cluster without a key).
func LoadKeyFile(path string) (*Key, error) {
	if path == "" {
		return nil, nil
	}
	return LoadKey(path)
}
