package auth

import "log/slog"

// WarnIfNoKey logs, once at a process's start, that it runs without a
// cluster key, and what that means.
func WarnIfNoKey(log *slog.Logger, k *Key, process string) {
	if k != nil {
		log.Info(process+": cluster key loaded: commands, replies, chunks and results are signed", "key", k.ID())
		return
	}
	log.Warn(process + ": no cluster key ([client] key_file): commands, chunks, results and the ZeroMQ channels " +
		"are not authenticated; anyone who can reach the job servers or the broker can steer this cluster. " +
		"Run glimpse-cluster keygen for anything but a trusted network")
}
