package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"unicode"
)

// The [client] keys of TLS to the job servers.
const (
	keyTLS           = "tls"
	keyTLSCAFile     = "tls_ca_file"
	keyTLSCertFile   = "tls_cert_file"
	keyTLSKeyFile    = "tls_key_file"
	keyTLSServerName = "tls_server_name"
)

// TLSConfig returns the TLS settings of the connections to the job
// servers, with the files of the tls_* keys read: nil, and no error, when
// TLS is off. It carries a session cache, so that new connections resume
// a TLS session instead of doing a full handshake: make it once and share
// it (gearman.WithTLS). A file that cannot be read or holds no usable PEM
// gives an *Error naming its key.
func (c Client) TLSConfig() (*tls.Config, error) {
	conf, errs := c.tlsConfig()
	return conf, join(errs)
}

func (c Client) tlsConfig() (*tls.Config, []*Error) {
	if errs := c.checkTLS(); len(errs) > 0 || !c.TLS {
		return nil, errs
	}
	conf := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.TLSServerName,
		ClientSessionCache: tls.NewLRUClientSessionCache(0),
	}
	var errs []*Error
	if c.TLSCAFile != "" {
		pool, err := readCAFile(c.TLSCAFile)
		if err != nil {
			errs = append(errs, &Error{Section: secClient, Key: keyTLSCAFile, Err: err})
		}
		conf.RootCAs = pool
	}
	if c.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			errs = append(errs, &Error{Section: secClient, Key: keyTLSCertFile,
				Err: fmt.Errorf("%q with %s %q: %w", c.TLSCertFile, keyTLSKeyFile, c.TLSKeyFile, unwrapPath(err))})
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return conf, nil
}

// checkTLS checks the tls_* keys without reading the files: they need tls
// on, a certificate comes with its key, and the server name is a host.
func (c Client) checkTLS() []*Error {
	var errs []*Error
	add := func(key string, err error) {
		errs = append(errs, &Error{Section: secClient, Key: key, Err: err})
	}
	files := []namedURL{{keyTLSCAFile, c.TLSCAFile}, {keyTLSCertFile, c.TLSCertFile}, {keyTLSKeyFile, c.TLSKeyFile}}
	for _, f := range files {
		if f.value != "" && strings.IndexFunc(f.value, unicode.IsControl) >= 0 {
			add(f.key, fmt.Errorf("%q: control character in the file name", f.value))
		}
	}
	if !c.TLS {
		for _, k := range append(files, namedURL{keyTLSServerName, c.TLSServerName}) {
			if k.value != "" {
				add(k.key, fmt.Errorf("set, but %s is off: set %s = true to connect to the job servers over TLS", keyTLS, keyTLS))
			}
		}
		return errs
	}
	switch {
	case c.TLSCertFile != "" && c.TLSKeyFile == "":
		add(keyTLSKeyFile, fmt.Errorf("missing: %s is set, and a client certificate needs its key", keyTLSCertFile))
	case c.TLSCertFile == "" && c.TLSKeyFile != "":
		add(keyTLSCertFile, fmt.Errorf("missing: %s is set, and a key needs its client certificate", keyTLSKeyFile))
	}
	if c.TLSServerName != "" {
		if err := checkHost(c.TLSServerName); err != nil {
			add(keyTLSServerName, fmt.Errorf("%q: %w", c.TLSServerName, err))
		}
	}
	return errs
}

// readCAFile reads a PEM bundle of CA certificates.
func readCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%q: cannot read: %w", path, unwrapPath(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%q: no PEM certificate in the file", path)
	}
	return pool, nil
}

// unwrapPath drops a *fs.PathError's repetition of the path the message
// already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// parseBool takes configparser's spellings of a boolean.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q: want true or false", s)
}

// clientTLS reads the tls_* keys of [client] and, with tls on, the files
// they name, so that a missing or bad file is reported with its line.
func (p *parser) clientTLS(v map[string]string) {
	c := &p.file.Client
	reported := len(p.errs)
	if p.boolean(secClient, keyTLS, v, &c.TLS); len(p.errs) > reported {
		return // the files of a bad tls key are not read
	}
	c.TLSCAFile, c.TLSCertFile, c.TLSKeyFile = p.filePath(v[keyTLSCAFile]), p.filePath(v[keyTLSCertFile]), p.filePath(v[keyTLSKeyFile])
	c.TLSServerName = v[keyTLSServerName]
	_, errs := c.tlsConfig()
	p.errs = append(p.errs, errs...)
}
