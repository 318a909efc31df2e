// Package faults holds the cluster's fault-injection tests; it has no
// code of its own.
//
// The tests run a real cluster: real gearmand job servers
// (internal/testenv), and the test binary re-executed as glimpse-cluster
// for the worker, broker and fanout processes. Then they break it the way
// production breaks: a worker SIGKILLed while it holds a chunk, every
// worker killed mid-map, gearmand restarted, one of two job servers lost
// for good, the broker and the fanout worker killed and started again, an
// item that panics every time, an item that kills its worker process
// every time, and a worker twenty times slower than the others.
//
// What the suite proves: through each of these faults a map returns
// either every result, in input order, with the right value and none lost
// or duplicated, or (for the poison items) an error that names the item
// or chunk, bounded by the retry settings instead of looping forever;
// the broker and fanout channels come back after a restart; and every
// process the test started ends cleanly: SIGTERM gives exit status 0, a
// SIGKILLed process is reaped, and no child process or goroutine is left
// behind.
package faults
