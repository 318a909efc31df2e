// Package gearman implements the Gearman job server protocol
// (gearman.org/protocol): a pipelined Client, a concurrent Worker, the
// administrative text protocol (Admin) and the packet codec they share.
// It knows nothing of glimpse; it is a general Gearman library.
//
// A Client keeps one connection per job server and pipelines every request
// on it, so any number of goroutines can submit at once without waiting
// for each other. It asks the server for the "exceptions" option, so a
// worker's error reaches the caller as a *JobException with its text.
// Jobs in flight on a connection that breaks fail with an error wrapping
// ErrConnectionLost; the client reconnects with backoff and the caller
// decides whether to submit again.
//
// A Worker runs up to WithConcurrency jobs at once over all its servers,
// recovers panics into WORK_EXCEPTION with the stack (the text of a
// *PanicError), and stops with Shutdown (drain) or Close (at once), like an
// http.Server.
//
// NewClient takes ClientOptions, NewWorker WorkerOptions and DialAdmin
// AdminOptions. An option that concerns several of them returns a type
// that is each of those (WithLogger, a ConnOption, is a ClientOption and a
// WorkerOption), so an option given to a party it does not concern, such
// as WithConcurrency to NewClient, does not compile.
//
// WithTLS makes every connection of a Client, a Worker or an Admin a TLS
// connection, for a job server behind a TLS-terminating proxy (gearmand as
// Debian builds it has no TLS of its own); a handshake that fails is a
// *TLSError naming the server, and a plaintext party that meets a TLS
// port gets ErrTLSRequired.
//
// Gearman's own facts that shape this package (gearmand 1.1): a foreground
// job whose client disconnected is dropped when a worker next asks for it;
// a job whose worker disconnects is given to another worker; two submits
// of the same function and unique id become one job with two waiters.
package gearman
