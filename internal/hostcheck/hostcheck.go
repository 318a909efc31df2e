// Package hostcheck is the Host-header rule of the HTTP servers that have
// no login of their own on loopback (the gateway, the dashboard): a page of
// another site whose name an attacker points at 127.0.0.1 (DNS rebinding)
// must not reach them, so only IP addresses and localhost are served.
package hostcheck

import (
	"net"
	"strings"
)

// Allowed returns the host of a request's Host header (port and IPv6
// brackets taken off) and whether it may be served: an IP address or
// localhost.
func Allowed(hostHeader string) (host string, ok bool) {
	host, _, err := net.SplitHostPort(hostHeader)
	if err != nil {
		host = hostHeader
	}
	host = strings.Trim(host, "[]")
	return host, net.ParseIP(host) != nil || strings.EqualFold(host, "localhost")
}
