package gearman

import (
	"crypto/tls"
	"log/slog"
	"net"
	"runtime"
	"time"
)

// DefaultPort is the IANA port of the Gearman protocol.
const DefaultPort = 4730

// MaxUniqueSize is the longest unique id gearmand handles. Its buffer
// (GEARMAN_MAX_UNIQUE_SIZE) is 64 bytes with the terminating NUL: gearmand
// 1.1.20 refuses a 65-byte id with ERROR, but takes a 64-byte one, cuts it
// to 63 bytes (so it coalesces with another job) and puts a NUL before the
// job's data.
const MaxUniqueSize = 63

// The defaults of the options that have no exported Default constant.
const (
	defaultDialTimeout = 5 * time.Second
	defaultBackoffMin  = 20 * time.Millisecond
	defaultBackoffMax  = 2 * time.Second
)

// ClientOption configures a Client (NewClient). The options that apply to
// a Client are WithClientID, WithDialTimeout, WithTLS, WithRequestTimeout,
// WithMaxPacketSize, WithBackoff and WithLogger; any other is a compile
// error.
type ClientOption interface{ applyClient(*clientOptions) }

// WorkerOption configures a Worker (NewWorker). The options that apply to
// a Worker are WithClientID, WithDialTimeout, WithTLS, WithMaxPacketSize,
// WithBackoff, WithLogger and WithConcurrency; any other is a compile
// error.
type WorkerOption interface{ applyWorker(*workerOptions) }

// AdminOption configures an Admin (DialAdmin). The options that apply to
// an Admin are WithDialTimeout, WithTLS and WithRequestTimeout; any other
// is a compile error.
type AdminOption interface{ applyAdmin(*adminOptions) }

// dialOptions are the settings of making a connection, which every party
// shares.
type dialOptions struct {
	dialTimeout time.Duration           // bounds the TCP connect and the TLS handshake together
	tlsConfig   *tls.Config             // nil: plaintext
	wrapConn    func(net.Conn) net.Conn // tests: sees every connection dialled (export_test.go)
}

// connOptions are the settings of a binary-protocol connection, which
// Clients and Workers share.
type connOptions struct {
	dialOptions
	clientID   string
	maxPacket  int
	backoffMin time.Duration
	backoffMax time.Duration
	logger     *slog.Logger
}

type clientOptions struct {
	connOptions
	requestTimeout time.Duration
}

type workerOptions struct {
	connOptions
	concurrency int
	prefetch    int
	oversize    func(job *Job, size int) error
	grabTimeout time.Duration
}

type adminOptions struct {
	dialOptions
	requestTimeout time.Duration
}

// defaultConnOptions is where the defaults of the shared options are set;
// the doc of each option states its default.
func defaultConnOptions() connOptions {
	return connOptions{
		dialOptions: dialOptions{dialTimeout: defaultDialTimeout},
		maxPacket:   DefaultMaxPacketSize,
		backoffMin:  defaultBackoffMin,
		backoffMax:  defaultBackoffMax,
		logger:      slog.New(slog.DiscardHandler),
	}
}

func newClientOptions(opts []ClientOption) clientOptions {
	o := clientOptions{connOptions: defaultConnOptions(), requestTimeout: DefaultRequestTimeout}
	for _, opt := range opts {
		opt.applyClient(&o)
	}
	return o
}

func newWorkerOptions(opts []WorkerOption) workerOptions {
	o := workerOptions{connOptions: defaultConnOptions(), concurrency: 4 * runtime.GOMAXPROCS(0),
		grabTimeout: DefaultRequestTimeout}
	for _, opt := range opts {
		opt.applyWorker(&o)
	}
	return o
}

func newAdminOptions(opts []AdminOption) adminOptions {
	o := adminOptions{dialOptions: dialOptions{dialTimeout: defaultDialTimeout}, requestTimeout: DefaultRequestTimeout}
	for _, opt := range opts {
		opt.applyAdmin(&o)
	}
	return o
}

// ConnOption is an option of the binary-protocol connections: it applies
// to a Client and to a Worker, not to an Admin.
type ConnOption struct{ set func(*connOptions) }

func (f ConnOption) applyClient(o *clientOptions) { f.apply(&o.connOptions) }
func (f ConnOption) applyWorker(o *workerOptions) { f.apply(&o.connOptions) }

func (f ConnOption) apply(o *connOptions) {
	if f.set != nil { // the zero ConnOption changes nothing
		f.set(o)
	}
}

// DialOption is an option of every connection: it applies to a Client, a
// Worker and an Admin.
type DialOption struct{ set func(*dialOptions) }

func (f DialOption) applyClient(o *clientOptions) { f.apply(&o.dialOptions) }
func (f DialOption) applyWorker(o *workerOptions) { f.apply(&o.dialOptions) }
func (f DialOption) applyAdmin(o *adminOptions)   { f.apply(&o.dialOptions) }

func (f DialOption) apply(o *dialOptions) {
	if f.set != nil { // the zero DialOption changes nothing
		f.set(o)
	}
}

// RequestOption is an option of the parties that wait for answers to
// their requests: it applies to a Client and to an Admin, not to a Worker.
type RequestOption struct{ requestTimeout time.Duration }

func (f RequestOption) applyClient(o *clientOptions) { o.requestTimeout = f.requestTimeout }
func (f RequestOption) applyAdmin(o *adminOptions)   { o.requestTimeout = f.requestTimeout }

// workerOnlyOption applies to a Worker only.
type workerOnlyOption func(*workerOptions)

func (f workerOnlyOption) applyWorker(o *workerOptions) { f(o) }

// WithGrabTimeout bounds how long a job server may leave a worker's
// GRAB_JOB_UNIQ unanswered (default DefaultRequestTimeout, 10s). Each
// unanswered ask holds one of the worker's slots, so a job server that
// hangs (SIGSTOP, a full disk) would otherwise keep every slot and starve
// the other job servers; past the bound the connection is closed and
// dialled again, and its slots go back to the others. d <= 0 means the
// default.
func WithGrabTimeout(d time.Duration) WorkerOption {
	return workerOnlyOption(func(o *workerOptions) {
		if d <= 0 {
			d = DefaultRequestTimeout
		}
		o.grabTimeout = d
	})
}

// WithClientID sets the id the job server shows for this connection in the
// admin "workers" listing (SET_CLIENT_ID). Default: none (shown as "-").
func WithClientID(id string) ConnOption {
	return ConnOption{func(o *connOptions) { o.clientID = id }}
}

// WithDialTimeout bounds each connection attempt (default 5s): the TCP
// connect and, with WithTLS, the TLS handshake.
func WithDialTimeout(d time.Duration) DialOption {
	return DialOption{func(o *dialOptions) { o.dialTimeout = d }}
}

// WithTLS makes every connection, the first and each redial, a TLS
// connection made with c: a job server behind a TLS-terminating proxy
// (gearmand itself, as Debian builds it, has no TLS; see SECURITY.md).
// When c.ServerName is empty, each server's certificate is checked
// against the host of its "host:port". The handshake counts against the
// dial timeout (WithDialTimeout). A handshake that fails, a certificate
// not signed by a CA of c.RootCAs say, fails the connection with a
// *TLSError naming the server; it wraps crypto/tls's error, so
// errors.As finds a *tls.CertificateVerificationError. c must not be
// modified afterwards; share one c between dials (with a
// ClientSessionCache) so that redials resume the TLS session. nil means
// plaintext, the default.
func WithTLS(c *tls.Config) DialOption {
	return DialOption{func(o *dialOptions) { o.tlsConfig = c }}
}

// WithRequestTimeout bounds how long a job server may take to answer each
// request of a Client or an Admin (default DefaultRequestTimeout, 10s),
// whatever the caller's context: the handshake of a new connection
// (OPTION_REQ), a submission's JOB_CREATED, GET_STATUS, ECHO and each
// admin command. A foreground job's result is not bounded: a job may run
// for hours. A request that times out fails with a *TimeoutError naming the
// server and what never came, and its connection is closed and dialled
// again, failing the other requests and tasks on it too (wrapping
// ErrConnectionLost): replies come in order, so a server that left one
// request unanswered answers none after it. The time counts from when the
// request is queued, so a job of many megabytes over a slow link needs a
// longer timeout. d <= 0 means the default. A Worker sends no requests
// that wait, so it takes no such option.
func WithRequestTimeout(d time.Duration) RequestOption {
	if d <= 0 {
		d = DefaultRequestTimeout
	}
	return RequestOption{d}
}

// WithMaxPacketSize bounds the body of a packet (default
// DefaultMaxPacketSize). A Client refuses to submit a larger job. A job's
// packet read over the limit is dropped and only that job fails: a Worker
// answers it with WORK_EXCEPTION, a Client fails the task. Any other larger
// packet closes the connection. n <= 0 means the default.
func WithMaxPacketSize(n int) ConnOption {
	if n <= 0 {
		n = DefaultMaxPacketSize
	}
	return ConnOption{func(o *connOptions) { o.maxPacket = n }}
}

// WithBackoff sets the wait between reconnect attempts: it doubles from min
// up to max (defaults 20ms and 2s).
func WithBackoff(min, max time.Duration) ConnOption {
	return ConnOption{func(o *connOptions) { o.backoffMin, o.backoffMax = min, max }}
}

// WithLogger sets where connection events are logged (default: nowhere).
func WithLogger(l *slog.Logger) ConnOption {
	return ConnOption{func(o *connOptions) { o.logger = l }}
}

// WithConcurrency sets how many jobs a Worker runs at once, over all its
// job servers. The default, four per GOMAXPROCS, keeps enough jobs in
// flight to hide the round trip to the job server when jobs are short or
// wait on I/O; for CPU-bound jobs spread over several workers, set it to
// GOMAXPROCS so that no worker holds jobs it cannot run yet.
func WithConcurrency(n int) WorkerOption {
	return workerOnlyOption(func(o *workerOptions) { o.concurrency = n })
}

// WithPrefetch lets a Worker ask for up to n jobs beyond its concurrency
// while its jobs end fast (in under a millisecond), so that a slot that
// frees finds its next job in hand instead of waiting a round trip to the
// job server: short jobs then run at the rate of the job server, not of
// its round trip. A job asked ahead waits in the worker for a slot; one
// slow job takes an ask ahead out of circulation, so slow jobs are not
// held from other workers. Default 0: no asks ahead.
func WithPrefetch(n int) WorkerOption {
	return workerOnlyOption(func(o *workerOptions) { o.prefetch = n })
}

// WithOversizeJobs sets what fails a job whose packet was over the
// Worker's size limit (WithMaxPacketSize): refuse is called, instead of
// the job's function, with the job (its Data nil: the worker skipped it
// unread) and the size of its data; its error is the job's outcome, a
// WORK_EXCEPTION. By default the error says the job was over the limit.
func WithOversizeJobs(refuse func(job *Job, size int) error) WorkerOption {
	return workerOnlyOption(func(o *workerOptions) { o.oversize = refuse })
}
