package cli

import (
	"github.com/glimpse-go/glimpse/pool"
)

var restartCommand = broadcastCommand(pool.CommandRestart, []string{"RestartWorkers"},
	"tell workers to drain, then start again",
	"\nEach worker drains like quit, then runs its command line again (a new\nbinary on disk is picked up). glimpse-cluster local replaces its worker\nwith a new one in the same process; cluster.StartLocal's worker refuses.\n")
