package fanout_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/fanout"
	"github.com/glimpse-go/glimpse/internal/gearmand"
)

// The fanout worker's counts (metrics.NewFanoutCollector exports them):
// it subscribes itself to the matchmaking topic, and has copied nothing
// yet.
func ExampleWorker_Stats() {
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

	s := fw.Stats()
	fmt.Println(s.Subscribers, s.CopiesSent, s.CopiesFailed, s.CopiesTimedOut)
	// Output: map[__matchmaking:1] 0 0 0
}
