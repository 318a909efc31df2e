package config

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/glimpse-go/glimpse/internal/auth"
)

// keyFile resolves a key_file value against the config file's directory
// and checks that it holds a private key; the returned path is absolute
// when the config's name is a path.
func (p *parser) keyFile(value string) string {
	path := p.filePath(value)
	if _, err := auth.LoadKey(path); err != nil {
		p.fail(secClient, keyKeyFile, err)
	}
	return path
}

// configModeForbidden are the permission bits a config file that names a
// key may not have: others may not read it (it says where the key is and
// what the cluster is), nobody but its owner may change it (or they could
// point it at a key of their own).
const configModeForbidden = 0o026

// checkConfigPrivate refuses a config file with a key that others may
// read or change, as ssh refuses ~/.ssh/config writable by others.
func checkConfigPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return &Error{File: path, Err: err}
	}
	if perm := fi.Mode().Perm(); perm&configModeForbidden != 0 {
		return &Error{File: path, Section: secClient, Key: keyKeyFile, Err: &auth.PermissionError{Path: path,
			Reason: fmt.Sprintf("names a cluster key but has mode %04o: others may read or change it", perm)}}
	}
	return nil
}

// filePath resolves a file named in the config (key_file, tls_*_file)
// against the config file's directory, as ssh reads its config's paths,
// so that a config and its files can move together; "" stays "".
func (p *parser) filePath(value string) string {
	if value == "" {
		return ""
	}
	path := value
	if !filepath.IsAbs(path) && p.file.Path != "" {
		path = filepath.Join(filepath.Dir(p.file.Path), path)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return path
}
