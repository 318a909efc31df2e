package gearman

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// normalizeAddrs checks "host[:port]" addresses and adds the default port.
func normalizeAddrs(addrs []string) ([]string, error) {
	if len(addrs) == 0 {
		return nil, fmt.Errorf("gearman: no job server address given")
	}
	out := make([]string, 0, len(addrs))
	seen := map[string]bool{}
	for _, a := range addrs {
		a = strings.TrimSpace(a)
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			if !strings.Contains(err.Error(), "missing port") {
				return nil, fmt.Errorf("gearman: bad job server address %q: %w", a, err)
			}
			host, port = strings.Trim(a, "[]"), strconv.Itoa(DefaultPort)
		}
		if host == "" {
			return nil, fmt.Errorf("gearman: bad job server address %q: no host", a)
		}
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("gearman: bad job server address %q: port %q is not 1-65535", a, port)
		}
		norm := net.JoinHostPort(host, port)
		if seen[norm] {
			return nil, fmt.Errorf("gearman: job server %s given twice", norm)
		}
		seen[norm] = true
		out = append(out, norm)
	}
	return out, nil
}

// checkFunction validates a function name before it goes on the wire.
func checkFunction(fn string) error {
	if fn == "" {
		return fmt.Errorf("gearman: empty function name")
	}
	if strings.IndexByte(fn, 0) >= 0 {
		return fmt.Errorf("gearman: function name %q contains a NUL byte", fn)
	}
	return nil
}

// checkUnique validates a unique id before it goes on the wire.
func checkUnique(id string) error {
	if len(id) > MaxUniqueSize {
		return fmt.Errorf("unique id of %d bytes is over the job server's %d-byte limit", len(id), MaxUniqueSize)
	}
	if strings.IndexByte(id, 0) >= 0 {
		return fmt.Errorf("unique id %q contains a NUL byte", id)
	}
	return nil
}
