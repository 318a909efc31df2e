package metrics_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/glimpse-go/glimpse/gateway"
	"github.com/glimpse-go/glimpse/metrics"
)

// A gateway serves its own counters at /metrics.
func ExampleNewGatewayCollector() {
	stats := gateway.NewStats()
	reg := metrics.NewRegistry(metrics.NewGatewayCollector(stats))
	srv := httptest.NewServer(gateway.New(gateway.Options{Stats: stats, Metrics: metrics.Handler(reg)}))
	defer srv.Close()
	resp, _ := http.Post(srv.URL+"/queue", "application/x-www-form-urlencoded", strings.NewReader("task.url=http://localhost:9/"))
	resp.Body.Close()
	for _, l := range scrape(srv.URL+"/metrics", "glimpse_http_requests_total") {
		fmt.Println(l)
	}
	// Output: glimpse_http_requests_total{code="503",route="POST /queue"} 1
}
