package metrics_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glimpse-go/glimpse/metrics"
	"github.com/glimpse-go/glimpse/metrics/histogram"
)

// scrape returns the lines of url's metrics that start with prefix.
func scrape(url, prefix string) []string {
	resp, err := http.Get(url)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var lines []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, prefix) {
			lines = append(lines, l)
		}
	}
	return lines
}

// A program serves its collectors, with the Go and process ones, on a
// loopback port.
func ExampleListen() {
	jobs := prometheus.NewCounter(prometheus.CounterOpts{Name: "myapp_jobs_total", Help: "Jobs done."})
	jobs.Add(3)
	s, err := metrics.Listen(":0", metrics.NewRegistry(jobs)) // ":0": loopback, a free port
	if err != nil {
		log.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	fmt.Println(strings.HasPrefix(s.URL(), "http://127.0.0.1:"))
	fmt.Println(scrape(s.URL(), "myapp_jobs_total"))
	fmt.Println(len(scrape(s.URL(), "go_goroutines")))
	// Output:
	// true
	// [myapp_jobs_total 3]
	// 1
}

// WithProfiles also serves the Go runtime's profiles beside the metrics,
// for `go tool pprof http://ADDR/debug/pprof/profile?seconds=10`.
func ExampleWithProfiles() {
	s, err := metrics.Listen(":0", metrics.NewRegistry(), metrics.WithProfiles())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	resp, err := http.Get("http://" + s.Addr() + metrics.ProfilesPath + "goroutine?debug=1")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, strings.HasPrefix(string(body), "goroutine profile:"))
	// Output: 200 true
}

// Listen's address errors say what was wrong.
func ExampleAddrError() {
	_, err := metrics.Listen("localhost:http", prometheus.NewRegistry())
	fmt.Println(err)
	// Output: metrics address "localhost:http": want [HOST]:PORT or PORT, PORT 0-65535: port "http"
}

func ExampleResolveAddr() {
	for _, addr := range []string{"9464", ":9464", "0.0.0.0:9464"} {
		resolved, _ := metrics.ResolveAddr(addr)
		fmt.Println(addr, "->", resolved)
	}
	// Output:
	// 9464 -> 127.0.0.1:9464
	// :9464 -> 127.0.0.1:9464
	// 0.0.0.0:9464 -> 0.0.0.0:9464
}

// itemTimes exports one histogram.
type itemTimes struct {
	h    *histogram.Histogram
	desc *prometheus.Desc
}

func (c itemTimes) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c itemTimes) Collect(ch chan<- prometheus.Metric) {
	if m, err := metrics.HistogramMetric(c.desc, c.h.Snapshot()); err == nil {
		ch <- m
	}
}

// A chunk of 10 items that took 20ms is observed once, as 10 items of
// 2ms each.
func ExampleHistogramMetric() {
	h := histogram.New([]float64{0.001, 0.01})
	h.ObserveN(0.002, 10)
	h.Observe(0.5)
	desc := prometheus.NewDesc("item_duration_seconds", "How long items ran.", nil, nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(itemTimes{h, desc})
	s, err := metrics.Listen(":0", reg)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for _, l := range scrape(s.URL(), "item_duration_seconds") {
		fmt.Println(l)
	}
	// Output:
	// item_duration_seconds_bucket{le="0.001"} 0
	// item_duration_seconds_bucket{le="0.01"} 10
	// item_duration_seconds_bucket{le="+Inf"} 11
	// item_duration_seconds_sum 0.52
	// item_duration_seconds_count 11
}

// The job servers' queues, as a gateway exports them: here a job server
// that is not there.
func ExampleNewJobServers() {
	js := metrics.NewJobServers([]string{"127.0.0.1:1"})
	defer js.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(js)
	s, err := metrics.Listen(":0", reg)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println(scrape(s.URL(), "glimpse_jobserver_up"))
	// Output: [glimpse_jobserver_up{server="127.0.0.1:1"} 0]
}

// A gateway mounts the same handler on its own server.
func ExampleHandler() {
	mux := http.NewServeMux()
	mux.Handle(metrics.Path, metrics.Handler(metrics.NewRegistry()))
	fmt.Println(metrics.Path)
	// Output: /metrics
}

func ExampleNewRegistry() {
	families, err := metrics.NewRegistry().Gather()
	if err != nil {
		log.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	fmt.Println(names["go_goroutines"], names["process_resident_memory_bytes"])
	// Output: true true
}
