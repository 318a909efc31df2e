package gateway

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/pool"
)

// Options configure a Gateway.
type Options struct {
	// Pool runs the functions' maps and calls; nil: the function routes
	// answer 503.
	Pool *pool.Pool
	// Tasks is the task service; nil: the task routes (/queue, /tasks,
	// /queues, /v1/functions/{name}/tasks) answer 503 "task service not
	// configured".
	Tasks Tasks
	// Metrics serves GET /metrics (metrics.Handler of a registry holding
	// metrics.NewGatewayCollector(Stats)); nil: /metrics answers 503.
	Metrics http.Handler
	// Stats counts the requests and the tasks enqueued; nil: New makes
	// one (see Gateway.Stats).
	Stats *Stats
	// Dashboard is served at / (dashboard.New); nil: none.
	Dashboard http.Handler
	// Token, when set, must come as "Authorization: Bearer TOKEN" on
	// every request but /healthz and /readyz.
	Token []byte
	// MaxBody bounds a request's body in bytes (413 above it); 0:
	// config.DefaultHTTPMaxBody.
	MaxBody int64
	// MaxConcurrent bounds the requests served at once (429 above it);
	// 0: config.DefaultHTTPMaxConcurrent.
	MaxConcurrent int
	// Log gets the errors of serving; nil: slog.Default().
	Log *slog.Logger
	// Now is the clock of countdowns and ETAs; nil: time.Now.
	Now func() time.Time
}

// OptionsFrom reads a config's [http] section into Options (the token
// file read and checked now); the caller adds Pool, Tasks, Dashboard.
func OptionsFrom(h config.HTTP) (Options, error) {
	token, err := h.GatewayToken()
	if err != nil {
		return Options{}, err
	}
	return Options{Token: token, MaxBody: int64(h.MaxBody), MaxConcurrent: h.MaxConcurrent}, nil
}

// Gateway is the HTTP gateway: an http.Handler of every route of its
// OpenAPI document.
type Gateway struct {
	opts     Options
	mux      *http.ServeMux
	routes   []route
	slots    chan struct{} // one per request served now
	draining atomic.Bool   // set by Serve at shutdown: /readyz answers 503
	// drain ends at shutdown: the dashboard's endless requests (its log
	// stream) end then, instead of holding the shutdown to its bound.
	drain    context.Context
	endDrain context.CancelFunc
}

// New returns a gateway with opts.
func New(opts Options) *Gateway {
	if opts.MaxBody <= 0 {
		opts.MaxBody = config.DefaultHTTPMaxBody
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = config.DefaultHTTPMaxConcurrent
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Stats == nil {
		opts.Stats = NewStats()
	}
	g := &Gateway{opts: opts, mux: http.NewServeMux(), slots: make(chan struct{}, opts.MaxConcurrent)}
	g.drain, g.endDrain = context.WithCancel(context.Background())
	g.routes = g.routeTable()
	for _, r := range g.routes {
		g.mux.Handle(r.method+" "+r.pattern, r.handler)
	}
	g.addFallbacks()
	return g
}

// Stats returns the gateway's counters.
func (g *Gateway) Stats() *Stats { return g.opts.Stats }

// ServeHTTP serves the routes, counting each request by route and code.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.counted(w, r, g.serve)
}

// serve serves the routes: health checks first, then the request limit,
// the token and the body limit.
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
		g.mux.ServeHTTP(w, r)
		return
	}
	select {
	case g.slots <- struct{}{}:
		defer func() { <-g.slots }()
	default:
		w.Header().Set("Retry-After", "1")
		errorf(w, http.StatusTooManyRequests, "too many requests at once (max_concurrent %d): retry later", g.opts.MaxConcurrent)
		return
	}
	if !g.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="glimpse"`)
		errorf(w, http.StatusUnauthorized, "missing or wrong bearer token (Authorization: Bearer TOKEN)")
		return
	}
	if r.ContentLength > g.opts.MaxBody {
		errorf(w, http.StatusRequestEntityTooLarge, "request body of %d bytes: the limit is %d (max_body)", r.ContentLength, g.opts.MaxBody)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, g.opts.MaxBody)
	g.mux.ServeHTTP(w, r)
}

// authorized checks the bearer token, in constant time.
func (g *Gateway) authorized(r *http.Request) bool {
	if len(g.opts.Token) == 0 {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), g.opts.Token) == 1
}

// addFallbacks answers JSON 405 on the known paths with another method,
// and JSON 404 on unknown paths.
func (g *Gateway) addFallbacks() {
	allowed := map[string][]string{}
	var paths []string
	for _, r := range g.routes {
		if _, ok := allowed[r.pattern]; !ok {
			paths = append(paths, r.pattern)
		}
		allowed[r.pattern] = append(allowed[r.pattern], r.method)
	}
	for _, p := range paths {
		allow := strings.Join(allowed[p], ", ")
		g.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			errorf(w, http.StatusMethodNotAllowed, "method %s not allowed on %s: want %s", r.Method, r.URL.Path, allow)
		})
	}
	if _, ok := allowed["/"]; !ok {
		g.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			errorf(w, http.StatusNotFound, "no route %s %s (see /openapi.json)", r.Method, strconv.Quote(r.URL.Path))
		})
	}
}

// endsAtShutdown cancels h's requests when the gateway starts to shut
// down.
func (g *Gateway) endsAtShutdown(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(g.drain, cancel)
		defer stop()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}
