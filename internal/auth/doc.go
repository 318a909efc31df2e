// Package auth holds the cluster key: the secret that every process of a
// glimpse-go cluster shares, from `glimpse-cluster keygen`, and what is
// made with it.
//
// With a key, each message that steers or feeds the cluster carries an
// HMAC-SHA256 over its bytes and over what it is for (its Purpose, so a
// reply can never pass for a command, nor a chunk of one job for another
// job's): broadcast commands and the workers' replies (sealed JSON, on
// both the fanout and the ZeroMQ path), chunks and results (a MAC frame
// around the msgpack payload). A command is fresh only once: its expiry
// is inside the MAC, and a ReplayGuard remembers the ids it let through
// until they expire. The ZeroMQ channels' CURVE keys are derived from the
// same secret (Key.Derive), so one file is all a host needs.
//
// Without a key everything works as before, on a network the operator
// trusts; the processes say so once at start.
package auth
