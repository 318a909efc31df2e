// Package metrics serves Prometheus metrics for glimpse's processes: the
// HTTP server behind every long-running command's -metrics ADDR flag
// (Listen), a registry holding the Go and process collectors
// (NewRegistry), the collectors of glimpse's components
// (NewWorkerCollector, NewPoolCollector, NewBrokerCollector,
// NewFanoutCollector, NewLocalCollector), and one that asks gearmand's
// admin protocol for its queues (NewJobServers), for the gateway to mount.
//
// The components count for themselves (cluster.Worker.Metrics, pool.Stats,
// broker.Stats, fanout.Stats) and do not link the Prometheus client, which
// costs a process about 6 MB of memory from its start: only programs that
// serve metrics pay for it. Every metric is named glimpse_<component>_...,
// counters end in _total, durations and sizes are in seconds and bytes.
package metrics
