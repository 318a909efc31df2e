// Package auth holds the cluster key: the secret that every process of a
// glimpse-go cluster shares, from `glimpse-cluster keygen`, and what is
// made with it.
//
// With a key, each message that steers or feeds the cluster carries a MAC
// over its bytes and over what it is for (its Purpose, so a reply can
// never pass for a command, nor a chunk of one job for another job's):
// broadcast commands, the workers' replies and requests to the fanout
// worker carry an HMAC-SHA256 (sealed JSON, SealJSON); chunks, results,
// notices and log records, which may be megabytes, a binary frame with a
// GMAC under a key derived for that message alone (Seal), several times
// faster on AES-NI. A command is fresh only once: its expiry
// is inside the MAC, and a ReplayGuard remembers the ids it let through
// until they expire. The ZeroMQ channels' CURVE keys are derived from the
// same secret (Key.Derive), so one file is all a host needs.
//
// Without a key everything works as before, on a network the operator
// trusts; the processes say so once at start.
package auth
