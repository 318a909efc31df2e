package metrics_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/metrics"
	"github.com/glimpse-go/glimpse/pool"
)

// Cube fails on negative items, for the examples' failed maps.
var Cube = pool.Register("metricsdoc.cube", func(_ context.Context, x int) (int, error) {
	if x < 0 {
		return 0, fmt.Errorf("negative input %d", x)
	}
	return x * x * x, nil
})

// printSamples prints the samples of the named families that c gathers,
// with their labels: counters' and gauges' values, histograms' counts;
// zero samples are left out.
func printSamples(c prometheus.Collector, names ...string) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range families {
		if !slices.Contains(names, f.GetName()) {
			continue
		}
		for _, m := range f.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
			if v == 0 {
				continue // a function that ran nothing, say
			}
			fmt.Printf("%s{%s} %v\n", f.GetName(), strings.Join(labels, ","), v)
		}
	}
}

func ExampleNewWorkerCollector() {
	ctx := context.Background()
	// A few functions, so that the output does not change with the
	// functions this binary links.
	local, err := cluster.StartLocalWith(ctx, cluster.LocalConfig{Log: io.Discard,
		Worker: config.Worker{Slots: 2, Functions: []string{"examples.square", "examples.hex", "metricsdoc.cube"}}})
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	c := metrics.NewWorkerCollector(local.Worker()) // the worker counts from here on
	if _, err := pool.Map(ctx, local.Pool(), funcs.Square, make([]int64, 100), pool.Chunksize(10)); err != nil {
		log.Fatal(err)
	}
	printSamples(c, "glimpse_worker_items_total", "glimpse_worker_item_duration_seconds", "glimpse_worker_slots")
	// Output:
	// glimpse_worker_item_duration_seconds{function=examples.square} 100
	// glimpse_worker_items_total{function=examples.square} 100
	// glimpse_worker_slots{} 2
}

// A program counts its maps on its own registry.
func ExampleNewPoolCollector() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	pool.Map(ctx, local.Pool(), Cube, []int{1, 2, 3})
	pool.Map(ctx, local.Pool(), Cube, []int{-1})
	printSamples(metrics.NewPoolCollector(local.Pool()),
		"glimpse_pool_maps_started_total", "glimpse_pool_maps_finished_total", "glimpse_pool_maps_failed_total")
	// Output:
	// glimpse_pool_maps_failed_total{} 1
	// glimpse_pool_maps_finished_total{} 1
	// glimpse_pool_maps_started_total{} 2
}

// The broker's traffic, and the fanout worker's subscribers, of a local
// cluster: its worker has subscribed to the command topic through both.
func ExampleNewBrokerCollector() {
	local, err := cluster.StartLocal(context.Background(), 1)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	printSamples(metrics.NewBrokerCollector(local.Broker()), "glimpse_broker_high_water_mark_messages")
	printSamples(metrics.NewFanoutCollector(local.Fanout()), "glimpse_fanout_subscribers")
	// Output:
	// glimpse_broker_high_water_mark_messages{} 100000
	// glimpse_fanout_subscribers{topic=__matchmaking} 1
	// glimpse_fanout_subscribers{topic=glimpse-commands} 1
}

// One endpoint for a whole local cluster, as glimpse-cluster local
// -metrics serves it.
func ExampleNewLocalCollector() {
	local, err := cluster.StartLocal(context.Background(), 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	s, err := metrics.Listen(":0", metrics.NewRegistry(metrics.NewLocalCollector(local)))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	up := scrape(s.URL(), "glimpse_jobserver_up{")
	fmt.Println(len(up), strings.HasSuffix(up[0], "} 1")) // gearmand answers
	fmt.Println(scrape(s.URL(), "glimpse_worker_slots "))
	// Output:
	// 1 true
	// [glimpse_worker_slots 2]
}
