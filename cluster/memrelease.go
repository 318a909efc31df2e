package cluster

import (
	"runtime/debug"
	"sync"
	"time"
)

// releaseAfterBytes: once chunks and results of this many bytes went
// through a worker, it gives the memory they used back to the system as
// soon as it is idle. Without this a worker that served large items kept
// hundreds of MB (the Go heap's goal grows with the chunks, and nothing
// runs a GC once the worker is idle).
const releaseAfterBytes = 32 << 20

// releaseDelays: gearman.Worker writes a result after the job function
// returns, so the memory is released a little later, and once more
// later still in case the result was still on its way (a slow job server).
var releaseDelays = []time.Duration{50 * time.Millisecond, time.Second}

// memReleaser frees memory after large chunks, when the worker is idle.
type memReleaser struct {
	mu    sync.Mutex
	bytes int64 // moved since the last release
	ended int64 // chunks ended: a release waits for no chunk to end meanwhile
}

// chunkDone counts a chunk's payload and result bytes; idle says whether
// no other chunk is running. Once enough went by, it schedules releases
// that run if the worker is still idle and no chunk ended meanwhile.
func (r *memReleaser) chunkDone(bytes int, idle func() bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bytes += int64(bytes)
	r.ended++
	if r.bytes < releaseAfterBytes || !idle() {
		return
	}
	ended := r.ended
	for _, d := range releaseDelays {
		time.AfterFunc(d, func() { r.release(ended, idle) })
	}
}

func (r *memReleaser) release(ended int64, idle func() bool) {
	r.mu.Lock()
	if r.ended != ended || !idle() {
		r.mu.Unlock()
		return // a later chunk's end schedules its own
	}
	r.bytes = 0
	r.mu.Unlock()
	debug.FreeOSMemory()
}
