package pool

import (
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// poolCounters are a pool's counters: atomic adds per map and per chunk
// copy, never per item.
type poolCounters struct {
	mapsStarted, mapsFinished, mapsFailed atomic.Uint64
	chunksInFlight                        atomic.Int64
	retries, crashLoops                   atomic.Uint64
	backupsLaunched, backupsWon           atomic.Uint64
}

// Stats are a pool's counters since New.
type Stats struct {
	MapsStarted  uint64 // maps that reached the cluster (an empty map does not)
	MapsFinished uint64 // maps that ended without error (a consumer that stopped early included)
	MapsFailed   uint64 // maps that ended with an error
	// ChunksInFlight are the chunk copies submitted or being submitted,
	// whose outcome has not come back.
	ChunksInFlight  int64
	Retries         uint64 // chunk resubmissions after a failure the Retries option allowed
	CrashLoops      uint64 // chunks stopped for going to more workers than Retries allows (ErrCrashLoop)
	BackupsLaunched uint64 // backup copies of slow chunks (BackupTasks)
	BackupsWon      uint64 // backup copies whose result came first
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	c := &p.counters
	return Stats{
		MapsStarted: c.mapsStarted.Load(), MapsFinished: c.mapsFinished.Load(), MapsFailed: c.mapsFailed.Load(),
		ChunksInFlight: c.chunksInFlight.Load(), Retries: c.retries.Load(), CrashLoops: c.crashLoops.Load(),
		BackupsLaunched: c.backupsLaunched.Load(), BackupsWon: c.backupsWon.Load(),
	}
}

// backup says whether the copy is a backup copy (BackupTasks).
func (c *chunkCall[In, Out]) backup() bool { return strings.HasSuffix(c.unique, "-backup") }

var (
	descMapsStarted     = prometheus.NewDesc("glimpse_pool_maps_started_total", "Maps that reached the cluster.", nil, nil)
	descMapsFinished    = prometheus.NewDesc("glimpse_pool_maps_finished_total", "Maps that ended without error.", nil, nil)
	descMapsFailed      = prometheus.NewDesc("glimpse_pool_maps_failed_total", "Maps that ended with an error (a failed item, a cancelled context, no workers, a crash loop).", nil, nil)
	descChunksInFlight  = prometheus.NewDesc("glimpse_pool_chunks_in_flight", "Chunk copies submitted whose outcome has not come back.", nil, nil)
	descRetries         = prometheus.NewDesc("glimpse_pool_retries_total", "Chunk resubmissions after a failure (the Retries option).", nil, nil)
	descCrashLoops      = prometheus.NewDesc("glimpse_pool_crash_loops_total", "Chunks stopped for going to more workers than Retries allows, none of which answered.", nil, nil)
	descBackupsLaunched = prometheus.NewDesc("glimpse_pool_backup_tasks_launched_total", "Backup copies launched for slow chunks (BackupTasks).", nil, nil)
	descBackupsWon      = prometheus.NewDesc("glimpse_pool_backup_tasks_won_total", "Backup copies whose result came before their original's.", nil, nil)
)

// Collector returns the pool's Prometheus collector (see Stats): a
// program registers it on its own registry.
func (p *Pool) Collector() prometheus.Collector { return poolCollector{p} }

type poolCollector struct{ p *Pool }

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMapsStarted, descMapsFinished, descMapsFailed, descChunksInFlight,
		descRetries, descCrashLoops, descBackupsLaunched, descBackupsWon} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.p.Stats()
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(descMapsStarted, s.MapsStarted)
	counter(descMapsFinished, s.MapsFinished)
	counter(descMapsFailed, s.MapsFailed)
	ch <- prometheus.MustNewConstMetric(descChunksInFlight, prometheus.GaugeValue, float64(s.ChunksInFlight))
	counter(descRetries, s.Retries)
	counter(descCrashLoops, s.CrashLoops)
	counter(descBackupsLaunched, s.BackupsLaunched)
	counter(descBackupsWon, s.BackupsWon)
}
