package gateway

import (
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glimpse-go/glimpse/metrics/histogram"
)

// Stats counts a gateway's requests by route and status code, with their
// durations, and the tasks it enqueued; package metrics exports it
// (metrics.NewGatewayCollector). Safe for concurrent use.
type Stats struct {
	mu       sync.RWMutex
	routes   map[routeCode]*routeCounter
	enqueued atomic.Uint64
}

type routeCode struct {
	route string
	code  int
}

type routeCounter struct {
	n        atomic.Uint64
	duration *histogram.Histogram // seconds
}

// NewStats returns empty counters, for Options.Stats.
func NewStats() *Stats { return &Stats{routes: map[routeCode]*routeCounter{}} }

// RouteStats is one route's requests that answered one status code.
type RouteStats struct {
	Route    string // "METHOD /pattern" as the OpenAPI document has it; "unmatched" before routing (401, 429)
	Code     int
	Requests uint64
	Duration histogram.Snapshot // seconds
}

// StatsSnapshot is a Stats' state.
type StatsSnapshot struct {
	Routes        []RouteStats // by route, then code
	TasksEnqueued uint64       // tasks enqueued through the task routes
}

// Snapshot returns the counters' state.
func (s *Stats) Snapshot() StatsSnapshot {
	s.mu.RLock()
	out := StatsSnapshot{TasksEnqueued: s.enqueued.Load(), Routes: make([]RouteStats, 0, len(s.routes))}
	for k, c := range s.routes {
		out.Routes = append(out.Routes, RouteStats{Route: k.route, Code: k.code, Requests: c.n.Load(), Duration: c.duration.Snapshot()})
	}
	s.mu.RUnlock()
	slices.SortFunc(out.Routes, func(a, b RouteStats) int {
		if a.Route != b.Route {
			if a.Route < b.Route {
				return -1
			}
			return 1
		}
		return a.Code - b.Code
	})
	return out
}

func (s *Stats) observe(route string, code int, d time.Duration) {
	k := routeCode{route, code}
	s.mu.RLock()
	c := s.routes[k]
	s.mu.RUnlock()
	if c == nil {
		s.mu.Lock()
		if c = s.routes[k]; c == nil {
			c = &routeCounter{duration: histogram.New(histogram.DurationBuckets)}
			s.routes[k] = c
		}
		s.mu.Unlock()
	}
	c.n.Add(1)
	c.duration.Observe(d.Seconds())
}

// statusWriter remembers the status code a handler answered.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush serves the dashboard's event stream, which asks for http.Flusher.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// counted serves r through serve and counts it by the route the mux
// matched (r.Pattern, which the mux sets on r).
func (g *Gateway) counted(w http.ResponseWriter, r *http.Request, serve func(http.ResponseWriter, *http.Request)) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	serve(sw, r)
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	code := sw.code
	if code == 0 {
		code = http.StatusOK
	}
	g.opts.Stats.observe(route, code, time.Since(start))
}
