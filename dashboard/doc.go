// Package dashboard is the cluster's live web dashboard: an http.Handler
// (New) that serves one page, with no JavaScript build step (its files
// are embedded), and the JSON and server-sent events the page reads.
//
// The page shows the workers (from their heartbeats and the job servers'
// worker listings; a worker whose heartbeat is overdue is marked stale),
// the functions and queues (the job servers' admin status), the maps
// running now with their progress (maps announce themselves on the log
// channel, see pool.MapAnnouncement), the throughput of the last minutes
// as a chart, tasks by state (from a TaskStates, once a task service
// exists; "no task service" until then) and the live log stream, with a
// level filter.
//
// The handler reads everything through a Source; Watch makes the real
// one from a cluster's config. The HTTP gateway mounts the handler at
// "/"; until then `glimpse-cluster dashboard` and `glimpse-cluster local`
// serve it (Serve).
package dashboard
