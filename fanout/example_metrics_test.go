package fanout_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/fanout"
	"github.com/glimpse-go/glimpse/internal/gearmand"
)

// The fanout worker's metrics: it subscribes itself to the matchmaking
// topic, and has copied nothing yet.
func ExampleWorker_Collector() {
	ctx := context.Background()
	srv, err := gearmand.Start(ctx, gearmand.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()
	dir, err := os.MkdirTemp("", "fanout-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := config.DefaultFanout()
	cfg.Store = filepath.Join(dir, "subscribers.db")
	fw, err := fanout.NewWorker(config.Client{JobServers: []string{srv.Addr()}}, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer fw.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(fw.Collector())
	families, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.Metric {
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			fmt.Println(f.GetName(), labels, v)
		}
	}
	// Output:
	// glimpse_fanout_copies_failed_total [] 0
	// glimpse_fanout_copies_sent_total [] 0
	// glimpse_fanout_copies_timed_out_total [] 0
	// glimpse_fanout_subscribers [topic=__matchmaking] 1
}
