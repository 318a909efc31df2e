package metrics

import (
	"strconv"

	"github.com/glimpse-go/glimpse/gateway"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	descHTTPRequests = prometheus.NewDesc("glimpse_http_requests_total",
		"HTTP requests the gateway answered, by route (METHOD /pattern; \"unmatched\" before routing) and status code.", []string{"route", "code"}, nil)
	descHTTPDuration = prometheus.NewDesc("glimpse_http_request_duration_seconds",
		"Time the gateway took to answer a request, by route and status code.", []string{"route", "code"}, nil)
	descHTTPEnqueued = prometheus.NewDesc("glimpse_http_tasks_enqueued_total",
		"Tasks enqueued through the gateway's task routes (an enqueue that found its idempotency key's task counts too).", nil, nil)
)

// NewGatewayCollector returns the collector of a gateway's counters
// (gateway.Options.Stats): requests and their durations by route and
// code, and the tasks enqueued over HTTP. A gateway's registry adds
// NewJobServers so that one scrape target shows gearmand too.
func NewGatewayCollector(s *gateway.Stats) prometheus.Collector {
	return funcCollector{
		descs: []*prometheus.Desc{descHTTPRequests, descHTTPDuration, descHTTPEnqueued},
		collect: func(ch chan<- prometheus.Metric) {
			snap := s.Snapshot()
			for _, r := range snap.Routes {
				code := strconv.Itoa(r.Code)
				counter(ch, descHTTPRequests, r.Requests, r.Route, code)
				if m, err := HistogramMetric(descHTTPDuration, r.Duration, r.Route, code); err == nil {
					ch <- m
				}
			}
			counter(ch, descHTTPEnqueued, snap.TasksEnqueued)
		},
	}
}
