package config

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/ini.v1"
)

// EnvVar names the config file when no -c flag is given.
const EnvVar = "GLIMPSE_CLUSTER_CONFIG"

// DefaultJobServerPort is gearmand's port, used for a job server written
// without one.
const DefaultJobServerPort = 4730

// Defaults of the optional [worker] and [fanout] keys.
const (
	DefaultShutdownTimeout   = 5 * time.Minute
	DefaultHeartbeatInterval = 5 * time.Second
	// DefaultSubscriptionRenewal (subscription_renewal) is how often a
	// worker subscribes its command queue to the fanout again, so that
	// an outsider's unsubscribe_fanout is undone within that time.
	DefaultSubscriptionRenewal = 30 * time.Second
	DefaultStore               = "" // fanout.db in StateDir(); see Fanout.StorePath
	DefaultCopyTimeout         = 30 * time.Second
	DefaultPruneAfter          = time.Minute

	// DefaultMaxPayload (max_payload, bytes) bounds what one fanout
	// copies to each subscriber. glimpse's own fanouts are commands
	// (ping, stats, quit, restart) of well under 1 KB; 64 KiB leaves a
	// wide margin while keeping one fanout's copies at gearmand, with
	// DefaultMaxSubscribers subscribers, under 640 MB.
	DefaultMaxPayload = 64 << 10
	// DefaultMaxSubscribers (max_subscribers) bounds the subscribers of
	// one topic: a worker process subscribes once, so this is ten times a
	// cluster of a thousand worker processes.
	DefaultMaxSubscribers = 10000

	// DefaultMaxChunkBytes (max_chunk_bytes) is the largest chunk payload
	// a worker accepts: gearmand 1.1.20 takes a 64 MiB job, and pool's
	// chunks of 1 MB items stay far below it.
	DefaultMaxChunkBytes = 64 << 20
	// DefaultSharedCacheBytes (shared_cache_bytes) is room for a few
	// shared values of tens of megabytes each.
	DefaultSharedCacheBytes = 1 << 30
	// DefaultMaxChunkItems (max_chunk_items) bounds a chunk's items; a
	// pool's automatic chunks hold at most a few thousand.
	DefaultMaxChunkItems = 1_000_000
	// DefaultMaxExpansion (max_expansion) bounds what decoding a chunk may
	// allocate, as a multiple of its payload. Typical shapes stay well
	// under it: 1-byte ints into []int64 and empty strings into []string
	// are 16x (msgpack makes an []int64 twice), structs of small numbers
	// 4-7x; small ints into []any (about 40x), empty inner slices (48x)
	// and one-entry maps (70x) are refused in chunks over 4 MiB / 32.
	DefaultMaxExpansion = 32
	// DefaultChunkTimeLimit (chunk_time_limit) is the hard limit on one
	// chunk's run on a worker; pool.TaskTimeout is the per-item one a
	// client sets.
	DefaultChunkTimeLimit = time.Hour
	// DefaultCrashLoopLimit (crash_loop_limit) is how many worker
	// processes of a host a job may kill before the next one fails it.
	DefaultCrashLoopLimit = 3
)

// ErrNoConfig is what FromEnv returns when EnvVar is unset, so that a
// program can fall back to a local cluster with errors.Is.
var ErrNoConfig = errors.New("no config file: pass -c FILE or set " + EnvVar)

// Client is the [client] section: what a program using the pool, and
// every worker, needs to reach the cluster.
type Client struct {
	JobServers         []string // job_server_url: "host:port[,host2:port]" (port defaults to 4730); at least one
	CommandFrontendURL string   // command_frontend_url: clients publish commands here (zmq URL, e.g. tcp://broker:9000)
	CommandBackendURL  string   // command_backend_url: workers subscribe here
	LogFrontendURL     string   // log_frontend_url: workers publish logs/replies here
	LogBackendURL      string   // log_backend_url: clients subscribe here

	// KeyFile (key_file) is the cluster key that `glimpse-cluster keygen`
	// wrote, as an absolute path (Load resolves a relative one against the
	// config file's directory). Empty: no key, for a trusted network only.
	// With one, commands, replies, chunks and results are signed and the
	// ZeroMQ channels use CURVE; Load refuses a key file or config file
	// that others may read.
	KeyFile string

	// TLS to the job servers, through a TLS-terminating proxy in front of
	// each (glimpse-cluster tls-proxy): gearmand itself has none. See
	// TLSConfig.
	TLS           bool   // tls: connect to the job servers over TLS (default false)
	TLSCAFile     string // tls_ca_file: PEM bundle of the CAs that sign their certificates; empty: the system's roots
	TLSCertFile   string // tls_cert_file: client certificate (PEM), for a proxy that requires one; with tls_key_file
	TLSKeyFile    string // tls_key_file: the client certificate's private key (PEM)
	TLSServerName string // tls_server_name: the name their certificates must carry; empty: each job server's host

	// ZMQMaxMessageSize (zmq_max_message_size) is the largest ZeroMQ
	// message frame, in bytes, that the broker and every peer of the
	// channels accept; a peer that sends a larger one is disconnected
	// before the frame is allocated. 0: the default, 1 MiB
	// (broker.DefaultMaxMessageSize). Every host should use the same value
	// (see broker.Peers.MaxMessageSize).
	ZMQMaxMessageSize int64

	// The direct path for large items (pool.WithDirectData): a map's
	// large chunks go between the client and its workers, not through the
	// job server, unless NoDirectData (direct_data = false; default true).
	// DirectDataAddress (direct_data_address) is where the client's
	// listener for it binds and what workers dial, HOST or HOST:PORT;
	// empty: the client's address on its route to the first job server,
	// any free port. Never used with TLS (it is plaintext).
	NoDirectData      bool
	DirectDataAddress string
}

// Server is the [server] section: the URLs the broker binds (e.g. tcp://*:9000).
type Server struct {
	CommandFrontendURL, CommandBackendURL, LogFrontendURL, LogBackendURL string

	// Metrics (metrics) is where the broker serves Prometheus metrics,
	// [HOST]:PORT or PORT (loopback unless a host is named); empty: off.
	// The broker's -metrics flag overrides it.
	Metrics string
}

// Worker is the optional [worker] section.
type Worker struct {
	Slots             int           // slots: jobs run at once per worker process; 0 = GOMAXPROCS
	Functions         []string      // functions: comma-separated registered names to serve; empty = all
	ShutdownTimeout   time.Duration // shutdown_timeout: how long a drain may take before the worker exits anyway (default 5m)
	HeartbeatInterval time.Duration // heartbeat_interval (default 5s)
	LogLevel          slog.Level    // log_level: debug|info|warn|error (default info)

	// SubscriptionRenewal (subscription_renewal) is how often the worker
	// subscribes to the fanout's command topic again (default 30s).
	SubscriptionRenewal time.Duration

	// Limits on one chunk, checked before it is decoded or run. 0 means
	// the default.
	MaxChunkBytes  int           // max_chunk_bytes: the largest payload accepted (default 64 MiB)
	MaxChunkItems  int           // max_chunk_items: the most items accepted (default 1,000,000)
	MaxExpansion   int           // max_expansion: decoding may allocate at most this multiple of the payload (default 32)
	ChunkTimeLimit time.Duration // chunk_time_limit: a chunk running longer fails (default 1h)
	CrashLoopLimit int           // crash_loop_limit: a job that killed this many worker processes is failed (default 3)

	// Webhooks (webhooks, default true): serve the built-in webhook
	// function (package webhook) besides the functions above.
	Webhooks bool
	// SharedCacheBytes (shared_cache_bytes) bounds the encoded size of the
	// maps' shared values a worker keeps decoded, least recently used out
	// first (default 1 GiB). 0 means the default.
	SharedCacheBytes int
	// Metrics (metrics) is where a worker (and glimpse-cluster local)
	// serves Prometheus metrics, [HOST]:PORT or PORT (loopback unless a
	// host is named); empty: off. The -metrics flag overrides it.
	Metrics string
}

// Fanout is the optional [fanout] section.
type Fanout struct {
	Store       string        // store: subscriber store DSN: a file path (SQLite) or postgres://...; empty (the default): StateDir()/fanout.db
	CopyTimeout time.Duration // copy_timeout: per-copy timeout of a foreground fanout (default 30s)
	PruneAfter  time.Duration // prune_after: drop subscribers whose queue had no worker this long (default 1m)

	// Limits checked before anything is copied. 0 means the default.
	MaxPayload     int // max_payload: bytes one fanout may copy to each subscriber (default 64 KiB)
	MaxSubscribers int // max_subscribers: subscribers one topic may have (default 10000)

	// Metrics (metrics) is where the fanout worker serves Prometheus
	// metrics, as [worker] metrics; empty: off.
	Metrics string
}

// File is a whole config file.
type File struct {
	Path   string // as given to Load, or the name given to Parse
	Client Client
	Server Server
	Worker Worker
	Fanout Fanout
	HTTP   HTTP
	Tasks  Tasks

	// Queues holds the [queue NAME] sections by NAME (nil when none), and
	// Periodic the [periodic NAME] sections in file order.
	Queues   map[string]Queue
	Periodic []Periodic
}

// DefaultWorker is the [worker] section of a file that has none; programs
// that run without a config file (a local cluster) use it too.
func DefaultWorker() Worker {
	return Worker{
		ShutdownTimeout:   DefaultShutdownTimeout,
		HeartbeatInterval: DefaultHeartbeatInterval,
		LogLevel:          slog.LevelInfo,

		SubscriptionRenewal: DefaultSubscriptionRenewal,

		MaxChunkBytes:  DefaultMaxChunkBytes,
		MaxChunkItems:  DefaultMaxChunkItems,
		MaxExpansion:   DefaultMaxExpansion,
		ChunkTimeLimit: DefaultChunkTimeLimit,
		CrashLoopLimit: DefaultCrashLoopLimit,

		Webhooks:         true,
		SharedCacheBytes: DefaultSharedCacheBytes,
	}
}

// DefaultFanout is the [fanout] section of a file that has none.
func DefaultFanout() Fanout {
	return Fanout{
		Store:       DefaultStore,
		CopyTimeout: DefaultCopyTimeout,
		PruneAfter:  DefaultPruneAfter,

		MaxPayload:     DefaultMaxPayload,
		MaxSubscribers: DefaultMaxSubscribers,
	}
}

// HasServer reports whether the file has the broker's bind URLs; the
// broker needs them, nothing else does.
func (f *File) HasServer() bool { return !f.Server.IsZero() }

// Load reads and validates the config file at path. A missing file gives
// an *Error that wraps fs.ErrNotExist.
func Load(path string) (*File, error) {
	if path == "" {
		return nil, &Error{Err: errors.New("empty config file path")}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		// The *PathError would repeat the path that Error already shows.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &Error{File: path, Err: fmt.Errorf("cannot read config file: %w", err)}
	}
	f, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	if f.Client.KeyFile != "" {
		if err := checkConfigPrivate(path); err != nil {
			return nil, err
		}
	}
	if f.HTTP.WebhookSecret != "" {
		if err := checkSecretConfigPrivate(path); err != nil {
			return nil, err
		}
	}
	if f.HTTP.Token != "" {
		if err := checkTokenConfigPrivate(path); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// FromEnv loads the file named by the GLIMPSE_CLUSTER_CONFIG environment
// variable. When it is unset or empty the error is ErrNoConfig.
func FromEnv() (*File, error) {
	path := os.Getenv(EnvVar)
	if path == "" {
		return nil, ErrNoConfig
	}
	return Load(path)
}

// LoadOrEnv is the -c flag convention of every glimpse-go program: the
// flag's path when given, else the one in GLIMPSE_CLUSTER_CONFIG, else
// ErrNoConfig.
func LoadOrEnv(path string) (*File, error) {
	if path != "" {
		return Load(path)
	}
	return FromEnv()
}

// iniOptions: keys are case-insensitive as in Python's configparser, which
// glimpse used (section names stay case-sensitive there too); repeated
// keys are kept as shadows so that they can be reported instead of the
// last one silently winning; double quotes may protect a ';' or '#'.
var iniOptions = ini.LoadOptions{
	InsensitiveKeys:            true,
	AllowShadows:               true,
	AllowDuplicateShadowValues: true,
	UnescapeValueDoubleQuotes:  true,
}

// Parse reads and validates a config file from data; name is used in
// errors and as File.Path. Every problem is reported, as *Error values
// joined with errors.Join; a syntax error stops parsing, so it comes alone.
func Parse(name string, data []byte) (*File, error) {
	lines := indexLines(data)
	raw, err := ini.LoadSources(iniOptions, data)
	if err != nil {
		return nil, syntaxError(name, data, err)
	}
	p := &parser{
		file:  &File{Path: name, Worker: DefaultWorker(), Fanout: DefaultFanout(), HTTP: DefaultHTTP(), Tasks: DefaultTasks()},
		given: make(map[string]bool),
	}
	p.parse(raw)
	for _, e := range p.errs {
		e.File = name
		e.Line = lines.find(e.Section, e.Key)
	}
	// In file order, as a compiler lists its errors; problems with no line
	// (a missing [client]) last.
	slices.SortStableFunc(p.errs, func(a, b *Error) int {
		return cmp.Compare(sortLine(a.Line), sortLine(b.Line))
	})
	if len(p.errs) > 0 {
		return nil, join(p.errs)
	}
	return p.file, nil
}

type parser struct {
	file  *File
	errs  []*Error
	given map[string]bool // "section.key" written with a value, even if rejected
}

func (p *parser) fail(section, key string, err error) {
	p.errs = append(p.errs, &Error{Section: section, Key: key, Err: err})
}

// sectionKeys lists every section and its keys, for the unknown-name
// errors and their hints.
var sectionKeys = map[string][]string{
	secClient: {keyJobServers, keyCommandFrontend, keyCommandBackend, keyLogFrontend, keyLogBackend, keyKeyFile, keyZMQMaxMessageSize,
		keyTLS, keyTLSCAFile, keyTLSCertFile, keyTLSKeyFile, keyTLSServerName, keyDirectData, keyDirectDataAddress},
	secServer: {keyCommandFrontend, keyCommandBackend, keyLogFrontend, keyLogBackend, keyMetrics},
	secWorker: {keySlots, keyFunctions, keyShutdownTimeout, keyHeartbeatInterval, keyLogLevel, keySubscriptionRenewal,
		keyMaxChunkBytes, keyMaxChunkItems, keyMaxExpansion, keyChunkTimeLimit, keyCrashLoopLimit, keyWebhooks, keySharedCacheBytes, keyMetrics},
	secFanout: {keyStore, keyCopyTimeout, keyPruneAfter, keyMaxPayload, keyMaxSubscribers, keyMetrics},
	secTasks: {keyStore, keyTasksServe, keyRetention, keyLease, keyPollInterval, keyRedispatchAfter, keyBatchSize,
		keyMaxAttempts, keyMinBackoff, keyMaxBackoff, keyMaxItemBytes},
	secHTTP: {keyWebhookSecret, keyWebhookSecretFile, keyWebhookTimeout, keyListen, keyToken, keyTokenFile,
		keyReadTimeout, keyWriteTimeout, keyMaxBody, keyMaxConcurrent, keyGatewayShutdown},
}

var sectionOrder = []string{secClient, secServer, secWorker, secFanout, secHTTP, secTasks}

func (p *parser) parse(raw *ini.File) {
	hasClient := false
	for _, sec := range raw.Sections() {
		name := sec.Name()
		switch name {
		case ini.DefaultSection:
			p.defaultSection(sec)
		case secClient:
			hasClient = true
			p.client(p.values(sec))
		case secServer:
			p.server(p.values(sec))
		case secWorker:
			p.worker(p.values(sec))
		case secFanout:
			p.fanout(p.values(sec))
		case secTasks:
			p.tasks(p.values(sec))
		case secHTTP:
			p.http(p.values(sec))
		default:
			if p.taskSection(sec) {
				continue
			}
			msg := "unknown section: want [client], [server], [worker], [fanout], [http], [tasks], [queue NAME] or [periodic NAME]"
			if s := closest(name, sectionOrder); s != "" {
				msg = fmt.Sprintf("unknown section; did you mean [%s]?", s)
			}
			p.fail(name, "", errors.New(msg))
		}
	}
	if hasClient && p.file.Client.Direct() && !p.file.Server.IsZero() {
		p.fail(secServer, "", errors.New("no broker runs with these [client] URLs (command_frontend_url = command_backend_url "+
			"and log_frontend_url = log_backend_url: the client binds them, workers connect): "+
			"remove [server], or give [client] the broker's four URLs"))
	}
	if !hasClient {
		// Every program, the broker included, runs in a cluster whose job
		// servers it may need to reach; requiring them keeps one rule and
		// means a loaded File always has a usable Client.
		p.fail(secClient, keyJobServers, errors.New("missing: every config file needs a [client] section naming at least one Gearman job server"))
	}
}

// defaultSection reports keys written above the first section header:
// configparser would copy them into every section, which hides typos and
// is never what a glimpse config needs.
func (p *parser) defaultSection(sec *ini.Section) {
	for _, k := range sec.KeyStrings() {
		msg := "key outside any section: put it under [client], [server], [worker], [fanout] or [http]"
		for _, s := range sectionOrder {
			if slices.Contains(sectionKeys[s], k) {
				msg = fmt.Sprintf("key outside any section: put it under [%s]", s)
				break
			}
		}
		p.fail(ini.DefaultSection, k, errors.New(msg))
	}
}

// values returns the section's known, non-empty values by key, and
// reports unknown and repeated keys. An empty value means "not set", so
// that `key =` falls back to the default as an absent key does.
func (p *parser) values(sec *ini.Section) map[string]string {
	name := sec.Name()
	known := keysOf(name)
	vals := make(map[string]string)
	for _, k := range sec.KeyStrings() {
		if !slices.Contains(known, k) {
			p.fail(name, k, errors.New(unknownKey(name, k)))
			continue
		}
		key, err := sec.GetKey(k)
		if err != nil {
			continue // cannot happen: k came from the section's own list
		}
		// Raw values (not Key.String) so that "%(x)s" is not expanded.
		all := key.ValueWithShadows()
		switch {
		case len(all) > 1:
			p.fail(name, k, fmt.Errorf("given %d times; keep one", len(all)))
			p.given[name+"."+k] = true
		case len(all) == 1:
			vals[k] = all[0]
			p.given[name+"."+k] = true
		}
	}
	return vals
}

func unknownKey(section, key string) string {
	known := keysOf(section)
	if s := closest(key, known); s != "" {
		return fmt.Sprintf("unknown key; did you mean %s?", s)
	}
	for _, other := range sectionOrder {
		if s := closest(key, sectionKeys[other]); s != "" {
			return fmt.Sprintf("unknown key in [%s]; %s belongs in [%s]", section, s, other)
		}
	}
	return "unknown key; [" + section + "] takes " + strings.Join(known, ", ")
}

func (p *parser) client(v map[string]string) {
	c := &p.file.Client
	c.CommandFrontendURL = v[keyCommandFrontend]
	c.CommandBackendURL = v[keyCommandBackend]
	c.LogFrontendURL = v[keyLogFrontend]
	c.LogBackendURL = v[keyLogBackend]
	if s, ok := v[keyKeyFile]; ok {
		c.KeyFile = p.keyFile(s)
	}
	if s, ok := v[keyZMQMaxMessageSize]; ok {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			p.fail(secClient, keyZMQMaxMessageSize, fmt.Errorf("%q: must be a number of bytes, more than 0", s))
		} else {
			c.ZMQMaxMessageSize = n
		}
	}
	if s, ok := v[keyJobServers]; ok {
		servers, errs := checkJobServers(splitList(s), true)
		c.JobServers = servers
		p.errs = append(p.errs, errs...)
	} else if !p.given[secClient+"."+keyJobServers] {
		p.fail(secClient, keyJobServers, errors.New("missing: name at least one Gearman job server, host:port[,host2:port]"))
	}
	p.errs = append(p.errs, checkClientURLs(*c)...)
	p.clientTLS(v)
	p.clientDirectData(v)
}

func (p *parser) server(v map[string]string) {
	s := &p.file.Server
	s.CommandFrontendURL = v[keyCommandFrontend]
	s.CommandBackendURL = v[keyCommandBackend]
	s.LogFrontendURL = v[keyLogFrontend]
	s.LogBackendURL = v[keyLogBackend]
	p.errs = append(p.errs, checkURLs(secServer, s.urls(), true)...)
	p.metrics(secServer, v, &s.Metrics)
}

// metrics reads a section's metrics address.
func (p *parser) metrics(section string, v map[string]string, dst *string) {
	s, ok := v[keyMetrics]
	if !ok || s == "" { // empty: off
		return
	}
	if err := CheckMetricsAddr(s); err != nil {
		p.fail(section, keyMetrics, err)
		return
	}
	*dst = s
}

// worker and fanout convert what they can and leave the default in place
// of a value that did not convert, so that check() reports each bad key
// once.
func (p *parser) worker(v map[string]string) {
	w := &p.file.Worker
	p.integer(secWorker, keySlots, v, &w.Slots)
	if s, ok := v[keyFunctions]; ok {
		w.Functions = splitList(s)
	}
	p.duration(secWorker, keyShutdownTimeout, v, &w.ShutdownTimeout)
	p.duration(secWorker, keyHeartbeatInterval, v, &w.HeartbeatInterval)
	p.duration(secWorker, keySubscriptionRenewal, v, &w.SubscriptionRenewal)
	p.integer(secWorker, keyMaxChunkBytes, v, &w.MaxChunkBytes)
	p.integer(secWorker, keyMaxChunkItems, v, &w.MaxChunkItems)
	p.integer(secWorker, keyMaxExpansion, v, &w.MaxExpansion)
	p.duration(secWorker, keyChunkTimeLimit, v, &w.ChunkTimeLimit)
	p.integer(secWorker, keyCrashLoopLimit, v, &w.CrashLoopLimit)
	p.webhooks(v)
	p.integer(secWorker, keySharedCacheBytes, v, &w.SharedCacheBytes)
	p.metrics(secWorker, v, &w.Metrics)
	if s, ok := v[keyLogLevel]; ok {
		l, err := parseLevel(s)
		if err != nil {
			p.fail(secWorker, keyLogLevel, err)
		} else {
			w.LogLevel = l
		}
	}
	p.errs = append(p.errs, w.check()...)
}

func (p *parser) fanout(v map[string]string) {
	f := &p.file.Fanout
	if s, ok := v[keyStore]; ok {
		f.Store = s
	}
	p.duration(secFanout, keyCopyTimeout, v, &f.CopyTimeout)
	p.duration(secFanout, keyPruneAfter, v, &f.PruneAfter)
	p.integer(secFanout, keyMaxPayload, v, &f.MaxPayload)
	p.integer(secFanout, keyMaxSubscribers, v, &f.MaxSubscribers)
	p.metrics(secFanout, v, &f.Metrics)
	p.errs = append(p.errs, f.check()...)
}

func (p *parser) duration(section, key string, v map[string]string, dst *time.Duration) {
	setParsed(p, section, key, v, dst, parseDuration)
}

func (p *parser) integer(section, key string, v map[string]string, dst *int) {
	setParsed(p, section, key, v, dst, parseInt)
}

func (p *parser) boolean(section, key string, v map[string]string, dst *bool) {
	setParsed(p, section, key, v, dst, parseBool)
}

// setParsed sets *dst to the key's value read by parse; a value that does
// not parse is reported (with its section and key) and leaves the default.
func setParsed[T any](p *parser, section, key string, v map[string]string, dst *T, parse func(string) (T, error)) {
	s, ok := v[key]
	if !ok {
		return
	}
	x, err := parse(s)
	if err != nil {
		p.fail(section, key, err)
		return
	}
	*dst = x
}

func sortLine(n int) int {
	if n == 0 {
		return math.MaxInt
	}
	return n
}

func parseInt(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q: not a whole number", s)
	}
	return n, nil
}

// splitList splits a comma-separated value, trimming each entry. Empty
// entries are kept so that the checks can report a stray comma.
func splitList(s string) []string {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// closest suggests the name the user probably meant: the same up to case,
// surrounding spaces and '-' for '_'.
func closest(name string, names []string) string {
	norm := func(s string) string {
		return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_")
	}
	for _, n := range names {
		if norm(n) == norm(name) {
			return n
		}
	}
	return ""
}
