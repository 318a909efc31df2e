package wire

// A worker that starts a chunk tells the client so, in a WORK_DATA of
// ChunkStarted: gearmand hands the chunk of a worker that died to the next
// worker without telling the client, and these notices let the client
// count how many workers a chunk has gone through.
const startedKind = 'S'

// ChunkStarted is the WORK_DATA payload a worker sends when it starts a
// chunk, naming itself. Worker runtimes that send it let maps stop a chunk
// that kills every worker it goes to (see pool.Retries).
func ChunkStarted(worker string) []byte {
	return append([]byte{version, startedKind}, worker...)
}

// ParseChunkStarted returns the worker a ChunkStarted notice names; ok is
// false for any other WORK_DATA.
func ParseChunkStarted(data []byte) (worker string, ok bool) {
	if len(data) < 2 || data[0] != version || data[1] != startedKind {
		return "", false
	}
	return string(data[2:]), true
}
