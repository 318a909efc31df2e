// Package cli is the glimpse-cluster command line: it runs and inspects a
// glimpse-go cluster (workers, broker, fanout worker, a local cluster,
// status, broadcast commands, logs). It uses only the public API of
// package cluster (and glimpse's internal packages), one file per command.
//
//	glimpse-cluster [-c FILE] worker [-n N] [-f FUNCS]   (alias LaunchWorker)
//	glimpse-cluster [-c FILE] broker                     (alias LaunchBroker)
//	glimpse-cluster [-c FILE] fanout
//	glimpse-cluster local [-n N] [-dashboard ADDR]
//	glimpse-cluster [-c FILE] status [-a] [-t TIMEOUT]
//	glimpse-cluster [-c FILE] ping [-t WAIT] [-w GLOBS] [-via fanout|zmq]   (alias PingWorkers)
//	glimpse-cluster [-c FILE] stats|quit|restart ...     (aliases KillWorkers, RestartWorkers)
//	glimpse-cluster [-c FILE] logs [-w GLOB] [-l LEVEL] [-heartbeats]
//	glimpse-cluster [-c FILE] dashboard [-listen ADDR]
//	glimpse-cluster [-c FILE] top [-d DELAY] [-t TIMEOUT]
//	glimpse-cluster functions
//	glimpse-cluster help [COMMAND]
//
// The config file comes from -c or GLIMPSE_CLUSTER_CONFIG (see package
// config). Exit status is 0 on success, 1 when a command fails and 2 for a
// usage or config error. cmd/glimpse-cluster is [Main] with the example
// functions linked in; a worker binary for your own functions is the same
// two lines with your package imported instead:
//
//	import (
//		_ "example.com/you/yourfuncs" // calls pool.Register
//		"github.com/glimpse-go/glimpse/cli"
//	)
//
//	func main() { cli.Main() }
//
// Files: main.go (dispatch, environment, exit codes), flags.go, table.go,
// broadcast.go (what ping, stats, quit and restart share), zmq.go and
// direct.go (the client side of the command and log channels), and one
// file per command. The commands still to come (tasks, http, top,
// keygen) get a file each here, on the public API of the packages they
// drive (tasks, gateway, metrics).
package cli
