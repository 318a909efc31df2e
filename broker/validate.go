package broker

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/glimpse-go/glimpse/config"
)

// errNoURL is the error of New for an empty [server].
var errNoURL = errors.New("broker: [server] sets no URL: the broker binds command_frontend_url, command_backend_url, log_frontend_url and log_backend_url")

// serverURL is one URL of a config.Server, with its key, for errors.
type serverURL struct {
	key string
	url *string
}

func serverURLs(s *config.Server) []serverURL {
	return []serverURL{
		{"command_frontend_url", &s.CommandFrontendURL}, {"command_backend_url", &s.CommandBackendURL},
		{"log_frontend_url", &s.LogFrontendURL}, {"log_backend_url", &s.LogBackendURL},
	}
}

// validate applies config's rules, which know nothing of the ephemeral
// ports a program (a test, a local cluster) may ask New for, and checks
// what only the broker cares about. Its errors are *config.Error values,
// for errors.As.
func validate(cfg config.Server) error {
	if cfg.IsZero() {
		return errNoURL
	}
	check, given := withFixedPorts(cfg)
	if err := check.Validate(); err != nil {
		return fmt.Errorf("broker: %w", asGiven(err, given))
	}
	for _, u := range serverURLs(&cfg) {
		if strings.HasPrefix(*u.url, "inproc://") {
			// An inproc endpoint lives in one ZeroMQ context, and the
			// broker's is its own: no peer could ever reach it.
			return fmt.Errorf("broker: %w", &config.Error{Section: "server", Key: u.key, Err: fmt.Errorf(
				"%q: inproc endpoints are private to the broker's ZeroMQ context; use tcp:// or ipc://", *u.url)})
		}
	}
	return nil
}

// withFixedPorts returns cfg with the ephemeral ports replaced by real
// ones, which config's rules accept, and the URLs as given of those it
// replaced, by config key.
func withFixedPorts(cfg config.Server) (config.Server, map[string]string) {
	given := map[string]string{}
	for i, u := range serverURLs(&cfg) {
		if fixed := withFixedPort(*u.url, 65531+i); fixed != *u.url {
			given[u.key] = *u.url
			*u.url = fixed
		}
	}
	return cfg, given
}

// withFixedPort turns tcp://host:0 and tcp://host:* into tcp://host:port.
func withFixedPort(u string, port int) string {
	rest, ok := strings.CutPrefix(u, "tcp://")
	if !ok {
		return u
	}
	host, p, err := net.SplitHostPort(rest)
	if err != nil || (p != "0" && p != "*") {
		return u
	}
	return "tcp://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// asGiven puts the URLs as given back into the *config.Error values of
// err (one, or several joined) that are about a URL withFixedPorts
// replaced. Such a URL can only be wrong in its host, and config gives
// that problem as the quoted URL followed by the wrapped cause; an error
// of another shape is left as it is.
func asGiven(err error, given map[string]string) error {
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = append([]error(nil), joined.Unwrap()...)
	}
	for i, e := range errs {
		var ce *config.Error
		if !errors.As(e, &ce) {
			continue
		}
		url, replaced := given[ce.Key]
		cause := errors.Unwrap(ce.Err)
		if !replaced || cause == nil {
			continue
		}
		fixed := *ce
		fixed.Err = fmt.Errorf("%q: %w", url, cause)
		errs[i] = &fixed
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}
