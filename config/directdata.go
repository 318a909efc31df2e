package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode"
)

// The [client] keys of the direct path for large items (see
// pool.WithDirectData).
const (
	keyDirectData        = "direct_data"
	keyDirectDataAddress = "direct_data_address"
)

// clientDirectData reads direct_data and direct_data_address.
func (p *parser) clientDirectData(v map[string]string) {
	c := &p.file.Client
	on := true
	p.boolean(secClient, keyDirectData, v, &on)
	c.NoDirectData = !on
	c.DirectDataAddress = v[keyDirectDataAddress]
	if err := checkDataAddress(c.DirectDataAddress); err != nil {
		p.fail(secClient, keyDirectDataAddress, err)
	}
}

// checkDataAddress accepts "", a host, or host:port with a port of
// 0-65535 (0: any free port).
func checkDataAddress(a string) error {
	if a == "" {
		return nil
	}
	if strings.IndexFunc(a, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Errorf("%q: want HOST or HOST:PORT, without spaces", a)
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		host, port = strings.Trim(a, "[]"), "0"
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil || host == "" {
		return fmt.Errorf("%q: want HOST or HOST:PORT, PORT 0-65535", a)
	}
	return nil
}
