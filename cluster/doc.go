// Package cluster runs the worker side of glimpse-go: the worker runtime
// ([Worker]) and a whole cluster on one machine ([StartLocal],
// [StartLocalWith]).
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
// restart replaces its worker): it starts its cluster with
// LocalConfig.ObeyStops, reads Local.StopRequested and calls
// Local.RestartWorker.
//
// # Command line
//
// The glimpse-cluster command line (its worker, local, ping, quit...
// commands) is package cli, built on this package's public API: cli.Main
// serves the functions registered in its binary.
//
// # What comes next
//
// The worker runtime is where every worker-side duty lands: the built-in
// webhook function (package webhook) is served like any registered
// function; the worker's Prometheus collectors (package metrics) read the
// counters behind Stats; checking the cluster key on chunks and commands
// (internal/auth) wraps jobFunc and control.
package cluster
