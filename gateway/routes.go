package gateway

import (
	"net/http"
)

// route is one route of the gateway, as its mux has it and as its OpenAPI
// document describes it.
type route struct {
	method, pattern string
	handler         http.Handler
}

// routeTable lists every route; the dashboard's only with a dashboard.
func (g *Gateway) routeTable() []route {
	rs := []route{
		{"GET", "/healthz", http.HandlerFunc(g.healthz)},
		{"GET", "/readyz", http.HandlerFunc(g.readyz)},
		{"GET", "/openapi.json", http.HandlerFunc(serveOpenAPI)},
		{"GET", "/v1/functions", http.HandlerFunc(g.listFunctions)},
		{"POST", "/v1/functions/{name}/map", http.HandlerFunc(g.mapFunction)},
		{"POST", "/v1/functions/{name}/call", http.HandlerFunc(g.callFunction)},
		{"POST", "/v1/functions/{name}/tasks", http.HandlerFunc(g.enqueueFunction)},
		{"POST", "/queue", http.HandlerFunc(g.enqueueMiyamoto)},
		{"POST", "/queue/{name}", http.HandlerFunc(g.enqueueMiyamoto)},
		{"GET", "/tasks/{id}", http.HandlerFunc(g.getTask)},
		{"DELETE", "/tasks/{id}", http.HandlerFunc(g.cancelTask)},
		{"GET", "/queues", http.HandlerFunc(g.listQueues)},
		{"GET", "/metrics", http.HandlerFunc(g.serveMetrics)},
	}
	if d := g.opts.Dashboard; d != nil {
		d = g.endsAtShutdown(d)
		rs = append(rs,
			route{"GET", "/{$}", d},
			route{"GET", "/static/{file...}", d},
			route{"GET", "/api/state", d},
			route{"GET", "/api/logs", d})
	}
	return rs
}

func (g *Gateway) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 503 once the gateway is shutting down, so that a load
// balancer sends no more requests, and when it has no pool.
func (g *Gateway) readyz(w http.ResponseWriter, r *http.Request) {
	switch {
	case g.draining.Load():
		errorf(w, http.StatusServiceUnavailable, "shutting down")
	case g.opts.Pool == nil:
		errorf(w, http.StatusServiceUnavailable, "no pool: the function routes are off")
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}

// serveMetrics serves Options.Metrics, or 503 without one.
func (g *Gateway) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if g.opts.Metrics == nil {
		errorf(w, http.StatusServiceUnavailable, "this gateway serves no metrics")
		return
	}
	g.opts.Metrics.ServeHTTP(w, r)
}
