package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Section and key names, in one place so that parsing, validation and
// the hints in error messages cannot drift apart.
const (
	secClient = "client"
	secServer = "server"
	secWorker = "worker"
	secFanout = "fanout"

	keyJobServers      = "job_server_url"
	keyCommandFrontend = "command_frontend_url"
	keyCommandBackend  = "command_backend_url"
	keyLogFrontend     = "log_frontend_url"
	keyLogBackend      = "log_backend_url"
	keyKeyFile         = "key_file"

	keyZMQMaxMessageSize = "zmq_max_message_size"

	keySlots               = "slots"
	keyFunctions           = "functions"
	keyShutdownTimeout     = "shutdown_timeout"
	keyHeartbeatInterval   = "heartbeat_interval"
	keySubscriptionRenewal = "subscription_renewal"
	keyLogLevel            = "log_level"
	keyMaxChunkBytes       = "max_chunk_bytes"
	keySharedCacheBytes    = "shared_cache_bytes"
	keyMaxChunkItems       = "max_chunk_items"
	keyMaxExpansion        = "max_expansion"
	keyChunkTimeLimit      = "chunk_time_limit"
	keyCrashLoopLimit      = "crash_loop_limit"

	keyStore       = "store"
	keyCopyTimeout = "copy_timeout"
	keyPruneAfter  = "prune_after"

	keyMaxPayload     = "max_payload"
	keyMaxSubscribers = "max_subscribers"

	keyMetrics = "metrics"
)

// CheckMetricsAddr checks a metrics address: PORT or [HOST]:PORT, PORT a
// number up to 65535 (0: any free port).
func CheckMetricsAddr(addr string) error {
	if _, err := strconv.ParseUint(addr, 10, 16); err == nil {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		return fmt.Errorf("%q: want [HOST]:PORT or PORT, PORT 0-65535", addr)
	}
	return nil
}

// maxFunctionName is DESIGN.md's limit on a registered function name; it
// keeps "glimpse." + name well inside what gearmand accepts.
const maxFunctionName = 200

// Validate checks a Client built in code with the rules Load applies to a
// file: at least one job server, each "host:port" (the port is not
// optional here: Load fills in 4730, code should too), no duplicates, and
// the four broker URLs either all set or all empty, in one of two shapes:
// four different URLs (a broker), or each frontend equal to its backend
// (no broker: see Direct). The tls_* settings need TLS on, and a client
// certificate comes with its key; their files are read by TLSConfig.
func (c Client) Validate() error {
	_, errs := checkJobServers(c.JobServers, false)
	errs = append(errs, checkClientURLs(c)...)
	errs = append(errs, c.checkTLS()...)
	if c.ZMQMaxMessageSize < 0 {
		errs = append(errs, &Error{Section: secClient, Key: keyZMQMaxMessageSize,
			Err: fmt.Errorf("%d: must be a number of bytes, or 0 for the default", c.ZMQMaxMessageSize)})
	}
	if err := checkDataAddress(c.DirectDataAddress); err != nil {
		errs = append(errs, &Error{Section: secClient, Key: keyDirectDataAddress, Err: err})
	}
	return join(errs)
}

// HasBroker reports whether the broker URLs are set, that is whether
// commands and logs can flow between clients and workers: through a
// broker, or directly when the URLs say so (see Direct). A cluster
// without them still runs maps.
func (c Client) HasBroker() bool {
	for _, u := range c.urls() {
		if u.value != "" {
			return true
		}
	}
	return false
}

// Direct reports whether the client talks to the workers with no broker
// between them, the shape glimpse documents: command_frontend_url equals
// command_backend_url and log_frontend_url equals log_backend_url (and
// they are set). The client then binds both URLs and the workers connect
// to them, so one client at a time can use the channels.
func (c Client) Direct() bool {
	return c.CommandFrontendURL != "" && c.LogFrontendURL != "" &&
		c.CommandFrontendURL == c.CommandBackendURL && c.LogFrontendURL == c.LogBackendURL
}

// Validate checks a Server built in code: the four URLs all set or all
// empty, each a ZeroMQ bind address.
func (s Server) Validate() error {
	return join(checkURLs(secServer, s.urls(), true))
}

// IsZero reports whether no bind URL is set, that is whether this
// machine's config tells a broker nothing.
func (s Server) IsZero() bool {
	s.Metrics = "" // not a bind URL
	return s == Server{}
}

// Validate checks a Worker built in code. Durations must be positive,
// so start from [DefaultWorker] rather than from a zero Worker.
func (w Worker) Validate() error { return join(w.check()) }

// Validate checks a Fanout built in code. Start from [DefaultFanout].
func (f Fanout) Validate() error { return join(f.check()) }

type namedURL struct{ key, value string }

func (c Client) urls() []namedURL {
	return []namedURL{
		{keyCommandFrontend, c.CommandFrontendURL},
		{keyCommandBackend, c.CommandBackendURL},
		{keyLogFrontend, c.LogFrontendURL},
		{keyLogBackend, c.LogBackendURL},
	}
}

func (s Server) urls() []namedURL {
	return []namedURL{
		{keyCommandFrontend, s.CommandFrontendURL},
		{keyCommandBackend, s.CommandBackendURL},
		{keyLogFrontend, s.LogFrontendURL},
		{keyLogBackend, s.LogBackendURL},
	}
}

func (w Worker) check() []*Error {
	var errs []*Error
	add := func(key string, err error) {
		errs = append(errs, &Error{Section: secWorker, Key: key, Err: err})
	}
	if w.Slots < 0 {
		add(keySlots, fmt.Errorf("%d: must be 0 (one slot per CPU) or more", w.Slots))
	}
	for _, err := range checkFunctions(w.Functions) {
		add(keyFunctions, err)
	}
	if err := checkPositive(w.ShutdownTimeout); err != nil {
		add(keyShutdownTimeout, err)
	}
	if err := checkPositive(w.HeartbeatInterval); err != nil {
		add(keyHeartbeatInterval, err)
	}
	if err := checkPositive(w.SubscriptionRenewal); err != nil {
		add(keySubscriptionRenewal, err)
	}
	errs = append(errs, w.checkLimits()...)
	switch w.LogLevel {
	case slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError:
	default:
		add(keyLogLevel, fmt.Errorf("%v: want debug, info, warn or error", w.LogLevel))
	}
	return errs
}

// checkLimits checks the chunk limits: none may be negative (0 is the
// default).
func (w Worker) checkLimits() []*Error {
	var errs []*Error
	for _, l := range []struct {
		key  string
		n    int64
		unit string
	}{
		{keyMaxChunkBytes, int64(w.MaxChunkBytes), "a number of bytes"},
		{keyMaxChunkItems, int64(w.MaxChunkItems), "a number of items"},
		{keyMaxExpansion, int64(w.MaxExpansion), "a multiple of the payload"},
		{keyChunkTimeLimit, int64(w.ChunkTimeLimit), "a duration"},
		{keyCrashLoopLimit, int64(w.CrashLoopLimit), "a number of worker processes"},
		{keySharedCacheBytes, int64(w.SharedCacheBytes), "a number of bytes"},
	} {
		if l.n < 0 {
			v := strconv.FormatInt(l.n, 10)
			if l.key == keyChunkTimeLimit {
				v = w.ChunkTimeLimit.String()
			}
			errs = append(errs, &Error{Section: secWorker, Key: l.key, Err: fmt.Errorf("%s: must be %s, or 0 for the default", v, l.unit)})
		}
	}
	return errs
}

func (f Fanout) check() []*Error {
	var errs []*Error
	add := func(key string, err error) {
		errs = append(errs, &Error{Section: secFanout, Key: key, Err: err})
	}
	if err := checkStore(f.Store); err != nil {
		add(keyStore, err)
	}
	if err := checkPositive(f.CopyTimeout); err != nil {
		add(keyCopyTimeout, err)
	}
	if err := checkPositive(f.PruneAfter); err != nil {
		add(keyPruneAfter, err)
	}
	if f.MaxPayload < 0 {
		add(keyMaxPayload, fmt.Errorf("%d: must be a number of bytes, or 0 for the default", f.MaxPayload))
	}
	if f.MaxSubscribers < 0 {
		add(keyMaxSubscribers, fmt.Errorf("%d: must be a number of subscribers, or 0 for the default", f.MaxSubscribers))
	}
	return errs
}

// checkJobServers validates a job server list and returns it normalized
// to "host:port". defaultPort lets an entry omit the port (the file
// syntax); code must spell it out, because pool.New dials the strings as
// they are.
func checkJobServers(entries []string, defaultPort bool) ([]string, []*Error) {
	var errs []*Error
	add := func(err error) {
		errs = append(errs, &Error{Section: secClient, Key: keyJobServers, Err: err})
	}
	if len(entries) == 0 {
		add(errors.New("missing: name at least one Gearman job server, host:port[,host2:port]"))
		return nil, errs
	}
	var out []string
	seen := make(map[string]string) // normalized, lowercased -> as written
	for _, e := range entries {
		addr, err := checkJobServer(e, defaultPort)
		if err != nil {
			add(err)
			continue
		}
		k := strings.ToLower(addr)
		if first, dup := seen[k]; dup {
			if first == e {
				add(fmt.Errorf("%q: listed twice", e))
			} else {
				add(fmt.Errorf("%q: same job server as %q", e, first))
			}
			continue
		}
		seen[k] = e
		out = append(out, addr)
	}
	return out, errs
}

func checkJobServer(e string, defaultPort bool) (string, error) {
	if e == "" {
		return "", errors.New("empty entry in the list (a stray comma?)")
	}
	if strings.Contains(e, "://") {
		return "", fmt.Errorf("%q: want host:port, without a scheme", e)
	}
	var host, port string
	switch {
	case defaultPort && strings.HasPrefix(e, "[") && strings.HasSuffix(e, "]"):
		host, port = e[1:len(e)-1], strconv.Itoa(DefaultJobServerPort)
	case defaultPort && !strings.Contains(e, ":"):
		host, port = e, strconv.Itoa(DefaultJobServerPort)
	default:
		var err error
		host, port, err = net.SplitHostPort(e)
		if err != nil {
			if strings.Count(e, ":") > 1 && !strings.HasPrefix(e, "[") {
				return "", fmt.Errorf("%q: write IPv6 addresses in brackets, e.g. [::1]:%d", e, DefaultJobServerPort)
			}
			return "", fmt.Errorf("%q: want host:port", e)
		}
	}
	if err := checkHost(host); err != nil {
		return "", fmt.Errorf("%q: %w", e, err)
	}
	n, err := checkPort(port)
	if err != nil {
		return "", fmt.Errorf("%q: %w", e, err)
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), nil
}

// checkURLs applies the all-or-none rule and checks each set URL. The
// four go together because a broker with only some of its channels, or a
// client that can send commands but never hear the replies, is a
// half-configured cluster that would fail later and more obscurely.
func checkURLs(section string, urls []namedURL, bind bool) []*Error {
	var errs []*Error
	var set, unset []string
	for _, u := range urls {
		if u.value == "" {
			unset = append(unset, u.key)
			continue
		}
		set = append(set, u.key)
		if err := checkZMQ(u.value, bind); err != nil {
			errs = append(errs, &Error{Section: section, Key: u.key, Err: err})
		}
	}
	if len(set) > 0 {
		for _, k := range unset {
			errs = append(errs, &Error{Section: section, Key: k,
				Err: fmt.Errorf("missing: %s is set, and the four broker URLs go together (all or none)", set[0])})
		}
	}
	return errs
}

// checkClientURLs applies checkURLs and the shape rule of [client]: a
// broker's four different URLs, or glimpse's no-broker shape where each
// frontend equals its backend. Anything in between names a channel that
// would never connect: with one pair equal, nobody binds that URL.
func checkClientURLs(c Client) []*Error {
	errs := checkURLs(secClient, c.urls(), false)
	if len(errs) > 0 || !c.HasBroker() {
		return errs
	}
	add := func(key string, err error) {
		errs = append(errs, &Error{Section: secClient, Key: key, Err: err})
	}
	cmdEq, logEq := c.CommandFrontendURL == c.CommandBackendURL, c.LogFrontendURL == c.LogBackendURL
	switch {
	case cmdEq != logEq:
		key, pair, other := keyCommandBackend, keyCommandFrontend, "log_frontend_url and log_backend_url differ"
		if logEq {
			key, pair, other = keyLogBackend, keyLogFrontend, "command_frontend_url and command_backend_url differ"
		}
		add(key, fmt.Errorf("same URL as %s, but %s: with a broker the four URLs differ; "+
			"with no broker each frontend equals its backend (the client binds them, workers connect)", pair, other))
	case cmdEq:
		if c.CommandFrontendURL == c.LogFrontendURL {
			add(keyLogFrontend, fmt.Errorf("same URL as %s: the command and log channels need a URL each", keyCommandFrontend))
		}
		for _, u := range []string{c.CommandFrontendURL, c.LogFrontendURL} {
			if strings.HasPrefix(u, "inproc://") {
				add(keyCommandFrontend, fmt.Errorf("%q: with no broker the client binds its URLs for worker processes to connect to; "+
					"inproc endpoints are private to one ZeroMQ context: use tcp:// or ipc://", u))
				break
			}
		}
	default:
		errs = append(errs, checkDistinct(secClient, c.urls())...)
	}
	return errs
}

// checkDistinct reports a URL given to two of a broker's channel ends.
func checkDistinct(section string, urls []namedURL) []*Error {
	var errs []*Error
	first := map[string]string{}
	for _, u := range urls {
		if k, dup := first[u.value]; dup {
			errs = append(errs, &Error{Section: section, Key: u.key, Err: fmt.Errorf("same URL as %s: each of the four needs its own", k)})
			continue
		}
		first[u.value] = u.key
	}
	return errs
}

// checkZMQ accepts the ZeroMQ transports glimpse-go uses. bind is true in
// [server], where "*" means every interface; a client cannot connect to it.
func checkZMQ(u string, bind bool) error {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return fmt.Errorf("%q: want tcp://host:port, ipc://path or inproc://name", u)
	}
	switch scheme {
	case "tcp":
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			return fmt.Errorf("%q: want tcp://host:port", u)
		}
		if host == "*" {
			if !bind {
				return fmt.Errorf("%q: host \"*\" is for binding, in [server]; give the broker's host name", u)
			}
		} else if err := checkHost(host); err != nil {
			return fmt.Errorf("%q: %w", u, err)
		}
		if _, err := checkPort(port); err != nil {
			return fmt.Errorf("%q: %w", u, err)
		}
	case "ipc", "inproc":
		if rest == "" {
			return fmt.Errorf("%q: empty %s address", u, scheme)
		}
		if i := strings.IndexFunc(rest, unicode.IsControl); i >= 0 {
			return fmt.Errorf("%q: control character in %s address", u, scheme)
		}
	default:
		return fmt.Errorf("%q: unsupported scheme %q: want tcp, ipc or inproc", u, scheme)
	}
	return nil
}

// checkHost accepts IP addresses and anything shaped like a host name
// (which includes interface names such as eth0, valid in a ZeroMQ bind).
// It resolves nothing: config files are read on machines that may not see
// the cluster's DNS.
func checkHost(h string) error {
	if h == "" {
		return errors.New("empty host")
	}
	if net.ParseIP(h) != nil {
		return nil
	}
	if len(h) > 253 {
		return errors.New("host name longer than 253 characters")
	}
	for _, r := range h {
		if !isASCIIAlnum(r) && r != '-' && r != '.' && r != '_' {
			return fmt.Errorf("host %q is not an IP address or host name", h)
		}
	}
	return nil
}

// checkPort insists on plain digits: strconv.Atoi alone would take "+80".
func checkPort(p string) (int, error) {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || strings.IndexFunc(p, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return 0, fmt.Errorf("port %q is not 1-65535", p)
	}
	return n, nil
}

func checkFunctions(names []string) []error {
	var errs []error
	seen := make(map[string]bool)
	for _, n := range names {
		switch {
		case n == "":
			errs = append(errs, errors.New("empty entry in the list (a stray comma?)"))
		case !ValidFunctionName(n):
			errs = append(errs, fmt.Errorf("%q: not a function name (1-%d of letters, digits, '.', '_', '-', ':')", n, maxFunctionName))
		case seen[n]:
			errs = append(errs, fmt.Errorf("%q: listed twice", n))
		}
		seen[n] = true
	}
	return errs
}

// ValidFunctionName is DESIGN.md's rule for registered names. ASCII only:
// the name goes on the Gearman wire and into logs and shell commands.
func ValidFunctionName(n string) bool {
	if len(n) == 0 || len(n) > maxFunctionName {
		return false
	}
	for _, r := range n {
		if !isASCIIAlnum(r) && !strings.ContainsRune("._-:", r) {
			return false
		}
	}
	return true
}

func isASCIIAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// checkPositive rejects zero too: a zero timeout or interval would make a
// worker give up at once or spin, never what anyone means.
func checkPositive(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%v: must be positive", d)
	}
	return nil
}

// checkStore accepts a file path (SQLite) or a postgres:// URL; other
// URL schemes are most likely a wrong guess, better caught here than
// created as a file named "mysql:..." by SQLite.
func checkStore(s string) error {
	if s == "" {
		return nil // the default: fanout.db in StateDir()
	}
	scheme, _, isURL := strings.Cut(s, "://")
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		if isURL {
			return errors.New("control character in the store URL")
		}
		return fmt.Errorf("%q: control character in the file name", s)
	}
	if !isURL {
		return nil
	}
	if scheme != "postgres" && scheme != "postgresql" {
		return fmt.Errorf("unsupported scheme %q: give a file path (SQLite) or a postgres:// URL", scheme)
	}
	if _, err := url.Parse(s); err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL, password included
		}
		return fmt.Errorf("not a valid postgres:// URL: %v", err)
	}
	return nil
}

// parseLevel takes the four names case-insensitively; slog's own parser
// also takes forms like "INFO+2" that would only surprise here.
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q: want debug, info, warn or error", s)
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: not a duration (write e.g. 30s, 5m, 1h30m)", s)
	}
	return d, nil
}
