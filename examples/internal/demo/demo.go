// Package demo is what every example program shares: the -c flag (a
// config file for a real cluster, else a local cluster started on the
// spot). Their progress bar is pool.ProgressBar.
package demo

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/pool"
)

var (
	configFile = flag.String("c", "", "config file of a real cluster (default: $"+config.EnvVar+", else start a local cluster)")
	slots      = flag.Int("n", 0, "worker slots of the local cluster (default GOMAXPROCS)")
)

// Main is an example's main: it parses the flags, connects (see Pool),
// runs run until it returns or SIGINT/SIGTERM cancels its context, and
// exits 1 with the error if there is one.
func Main(run func(ctx context.Context, p *pool.Pool) error) {
	log.SetFlags(0)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := func() error {
		defer stop()
		p, done, err := Pool(ctx)
		if err != nil {
			return err
		}
		defer done()
		return run(ctx, p)
	}()
	if err != nil {
		log.Fatal(err)
	}
}

// Pool returns a pool on the configured cluster, or on a local one it
// starts; call the returned func when done.
func Pool(ctx context.Context) (*pool.Pool, func(), error) {
	path := *configFile
	if path == "" {
		path = os.Getenv(config.EnvVar)
	}
	if path != "" {
		p, err := pool.FromConfigFile(path)
		if err != nil {
			return nil, nil, err
		}
		return p, func() { p.Close() }, nil
	}
	local, err := cluster.StartLocal(ctx, *slots)
	if err != nil {
		return nil, nil, fmt.Errorf("starting a local cluster: %w", err)
	}
	fmt.Fprintf(os.Stderr, "local cluster: gearmand on %s\n", local.Config().JobServers[0])
	return local.Pool(), func() { local.Close() }, nil
}
