// Package cluster runs the worker side of glimpse-go: the worker runtime
// ([Worker]), a whole cluster on one machine ([StartLocal]) and the
// glimpse-cluster command line ([Main]).
//
// # Workers
//
// A worker process serves the functions registered with pool.Register in
// its binary, so the binary that runs workers must import the package that
// registers them. The function values never travel: a job names the
// function, and carries only msgpack data.
//
// One process runs N chunks at once (its slots) over a single Gearman
// connection per job server, and names that connection
// "glimpse/N/id" so that pools read the slot count from the
// job server's admin "workers" listing. A worker id is "host-pid-random".
// Workers reconnect to job servers with backoff, so they may be started
// before gearmand. Shutdown drains a worker (running chunks finish, no new
// ones are taken); Close stops it at once, and the job servers give its
// unfinished chunks to other workers.
//
// # Commands and logs
//
// Every worker subscribes to the fanout topic "glimpse-commands" with its
// id, and answers broadcast commands (ping, stats, quit, restart) on a
// Gearman connection of its own, so busy slots never delay them. With a
// broker in its config it also takes the same commands from the command
// channel and publishes its log records, a heartbeat with its stats, and
// its replies on the log channel. A command carries an id (obeyed once,
// whichever way it came) and an expiry (a late worker ignores it). With no
// broker (config.Client.Direct, glimpse's shape) the client binds the two
// channels and the workers connect to it; one client at a time.
//
// # Local cluster
//
// StartLocal starts gearmand (Debian package gearman-job-server) on a free
// loopback port with --job-retries=3, so that a chunk that kills its worker
// every time fails its map instead of being retried forever, a broker and
// a fanout worker, plus an in-process worker. It is what a program uses
// when it has no config file. That worker lives inside the program, so it
// refuses the broadcast commands quit and restart with a reply that says
// so; glimpse-cluster local obeys them (quit stops the local cluster,
// restart replaces its worker).
//
// # Command line
//
// Main is the whole glimpse-cluster command:
//
//	glimpse-cluster [-c FILE] worker [-n N] [-f FUNCS]   (alias LaunchWorker)
//	glimpse-cluster [-c FILE] broker                     (alias LaunchBroker)
//	glimpse-cluster [-c FILE] fanout
//	glimpse-cluster local [-n N]
//	glimpse-cluster [-c FILE] status [-a] [-t TIMEOUT]
//	glimpse-cluster [-c FILE] ping [-t WAIT] [-w GLOBS] [-via fanout|zmq]   (alias PingWorkers)
//	glimpse-cluster [-c FILE] stats|quit|restart ...     (aliases KillWorkers, RestartWorkers)
//	glimpse-cluster [-c FILE] logs [-w GLOB] [-l LEVEL] [-heartbeats]
//	glimpse-cluster functions
//	glimpse-cluster help [COMMAND]
//
// The config file comes from -c or GLIMPSE_CLUSTER_CONFIG (see package
// config). Exit status is 0 on success, 1 when a command fails and 2 for a
// usage or config error. cmd/glimpse-cluster is Main with the example
// functions linked in; a worker binary for your own functions is the same
// two lines with your package imported instead.
package cluster
