package pool

import (
	"strings"
	"sync/atomic"
)

// poolCounters are a pool's counters: atomic adds per map and per chunk
// copy, never per item.
type poolCounters struct {
	mapsStarted, mapsFinished, mapsFailed atomic.Uint64
	chunksInFlight                        atomic.Int64
	retries, crashLoops                   atomic.Uint64
	backupsLaunched, backupsWon           atomic.Uint64
	directChunks, directFallbacks         atomic.Uint64
}

// Stats are a pool's counters since New (metrics.NewPoolCollector
// exports them to Prometheus).
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
	// DirectChunks are the chunk results that came back by the direct
	// path (WithDirectData), and DirectFallbacks the chunks whose worker
	// could not fetch them from the pool, sent again through the job
	// server.
	DirectChunks, DirectFallbacks uint64
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	c := &p.counters
	return Stats{
		MapsStarted: c.mapsStarted.Load(), MapsFinished: c.mapsFinished.Load(), MapsFailed: c.mapsFailed.Load(),
		ChunksInFlight: c.chunksInFlight.Load(), Retries: c.retries.Load(), CrashLoops: c.crashLoops.Load(),
		BackupsLaunched: c.backupsLaunched.Load(), BackupsWon: c.backupsWon.Load(),
		DirectChunks: c.directChunks.Load(), DirectFallbacks: c.directFallbacks.Load(),
	}
}

// backup says whether the copy is a backup copy (BackupTasks).
func (c *chunkCall[In, Out]) backup() bool { return strings.HasSuffix(c.unique, "-backup") }
