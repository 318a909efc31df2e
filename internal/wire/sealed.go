package wire

import "github.com/glimpse-go/glimpse/internal/auth"

// Chunks, results, task errors and start notices under a cluster key (see
// package auth): each is sealed in a binary MAC frame bound to its
// chunk's Gearman function and unique id, which are not sent, so that
// nothing sealed for one chunk opens for another, and a result never
// opens as a chunk, a task error or a notice. A nil key seals nothing and
// opens only unsealed data.

// exceptionBind tells a sealed task error from a sealed result.
var exceptionBind = []byte("exception")

// chunkBind is what a chunk's envelope is bound to. Without a key there
// is no envelope to bind: nothing is built (it cost every unkeyed chunk
// allocations on both sides).
func chunkBind(k *auth.Key, function, unique string, more ...[]byte) [][]byte {
	if k == nil {
		return nil
	}
	return append([][]byte{[]byte(function), []byte(unique)}, more...)
}

// SealChunkInPlace seals a chunk's payload, encoded with
// auth.FrameOverhead bytes of headroom (EncodeAfter), in place.
func SealChunkInPlace(k *auth.Key, frame []byte, function, unique string) {
	k.SealInPlace(auth.PurposeChunk, frame, chunkBind(k, function, unique)...)
}

// OpenChunk checks a chunk job's data and returns its payload.
func OpenChunk(k *auth.Key, data []byte, function, unique string) ([]byte, error) {
	return k.Open(auth.PurposeChunk, data, chunkBind(k, function, unique)...)
}

// SealResultInPlace seals a chunk's WORK_COMPLETE data, encoded with
// auth.FrameOverhead bytes of headroom (RunChunkAfter), in place.
func SealResultInPlace(k *auth.Key, frame []byte, function, unique string) []byte {
	k.SealInPlace(auth.PurposeResult, frame, chunkBind(k, function, unique)...)
	return frame
}

// SealResult seals a chunk's WORK_COMPLETE data.
func SealResult(k *auth.Key, result []byte, function, unique string) []byte {
	return k.Seal(auth.PurposeResult, result, chunkBind(k, function, unique)...)
}

// OpenResult checks a chunk's WORK_COMPLETE data and returns the result.
func OpenResult(k *auth.Key, data []byte, function, unique string) ([]byte, error) {
	return k.Open(auth.PurposeResult, data, chunkBind(k, function, unique)...)
}

// SealTaskError seals a chunk's WORK_EXCEPTION data.
func SealTaskError(k *auth.Key, data []byte, function, unique string) []byte {
	return k.Seal(auth.PurposeResult, data, chunkBind(k, function, unique, exceptionBind)...)
}

// OpenTaskError checks a chunk's WORK_EXCEPTION data and returns it.
func OpenTaskError(k *auth.Key, data []byte, function, unique string) ([]byte, error) {
	return k.Open(auth.PurposeResult, data, chunkBind(k, function, unique, exceptionBind)...)
}

// SealNotice seals a WORK_DATA notice such as ChunkStarted.
func SealNotice(k *auth.Key, notice []byte, function, unique string) []byte {
	return k.Seal(auth.PurposeNotice, notice, chunkBind(k, function, unique)...)
}

// OpenNotice checks a chunk's WORK_DATA and returns the notice.
func OpenNotice(k *auth.Key, data []byte, function, unique string) ([]byte, error) {
	return k.Open(auth.PurposeNotice, data, chunkBind(k, function, unique)...)
}
