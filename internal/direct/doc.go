// Package direct carries a chunk's bulk bytes peer to peer, beside the
// job server, as Dask and Ray do: the job server carries only a small
// reference (Ref: an address, a random token and a length); the process
// that holds the bytes serves them (Server, one Offer per payload), and
// the process that runs the job fetches them (Open), sends its result
// back on the same connection (Fetch.Deliver), and answers the job with a
// small marker (ResultSent). It knows nothing of chunks or functions:
// bytes, tokens and addresses only.
//
// The connection, after the worker dials the Ref's address:
//
//	worker -> server  "GLD1" | token (16 bytes)
//	server -> worker  status (1 byte); if StatusOK: length (8 bytes, big-endian) | payload
//	worker -> server  length (8 bytes) | result
//	server -> worker  status (1 byte): StatusOK once the result is stored
//
// Every wait but one has a deadline scaled from the length it waits for
// (Budget). The one without is the server's wait for the result while the
// job runs: it ends when the Offer is dropped (which closes its
// connections) or the peer's TCP connection dies (keepalive).
//
// The connection is plaintext and unauthenticated beyond the token: use
// it on the network the job servers' own plaintext port is on.
package direct
