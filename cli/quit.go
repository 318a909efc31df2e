package cli

import (
	"github.com/glimpse-go/glimpse/pool"
)

var quitCommand = broadcastCommand(pool.CommandQuit, []string{"KillWorkers"},
	"tell workers to finish their running chunks and exit",
	"\nEach worker stops taking chunks, finishes the ones it runs, and exits 0.\n"+
		"glimpse-cluster local stops its whole local cluster; the worker of a\n"+
		"program's cluster.StartLocal refuses (stop that program instead).\n")
