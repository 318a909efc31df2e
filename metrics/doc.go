// Package metrics serves Prometheus metrics for glimpse's processes: the
// HTTP server behind every long-running command's -metrics ADDR flag
// (Listen), a registry holding the Go and process collectors (NewRegistry),
// a lock-free histogram that observes a whole chunk's items in one call
// (Histogram), and a collector that asks gearmand's admin protocol for its
// queues (JobServers), for the gateway to mount.
//
// The collectors of glimpse's own components live with them, so that their
// counters stay private: cluster.Worker.Collector, pool.Pool.Collector,
// broker.Broker.Collector and fanout.Worker.Collector. Every metric is
// named glimpse_<component>_..., counters end in _total, and durations and
// sizes are in seconds and bytes.
package metrics
