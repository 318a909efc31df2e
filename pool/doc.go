// Package pool is the client API of glimpse-go: it spreads calls of a
// registered function over the cluster's workers and gathers the results.
//
// Functions are registered by name in a package that both the client
// program and the worker binary import (function values cannot travel
// between processes, and a job payload never carries code):
//
//	var Square = pool.Register("examples.square", func(ctx context.Context, x int64) (int64, error) {
//		return x * x, nil
//	})
//
// A program then maps it over its items, on a cluster named by a config
// file or on a local one (cluster.StartLocal):
//
//	p, err := pool.FromConfigFile("config.ini")
//	squares, err := pool.Map(ctx, p, Square, []int64{1, 2, 3})
//
// Items are cut into chunks; each chunk is one Gearman job of the function
// "glimpse." + name, carried as versioned msgpack. The format is shared
// with the worker runtime (package cluster) and is not API: a client and
// its workers ship together. Map returns the results
// in input order; Imap streams them in order from a lazily read input with
// bounded memory; ImapUnordered streams them as they complete. The first
// failing item stops the map, drops its queued chunks, and comes back as a
// *TaskError with the item's index, the worker, the message and, for a
// panic, the remote stack. Chunks lost to a broken connection or a
// WORK_FAIL are resubmitted with the same unique id (Retries), so
// gearmand coalesces a resubmission with a copy still queued instead of
// running it twice. BackupTasks runs the last slow chunks a second time on
// idle workers, so one slow or cut-off worker does not hold up the map.
//
// Reduce and ReduceSeq run a map/reduce on the workers: a reducer
// (RegisterReducer) folds each chunk's results into one accumulator on its
// worker, and only that comes back; the client merges the accumulators in
// input order. ReduceByKey and ReduceByKeySeq do the same per key
// (RegisterKeyed): word counts, group-bys.
//
// A map that ends early (its context ends, its consumer stops iterating,
// an item fails, or the Pool is closed) closes its connection, so that
// gearmand drops its queued chunks, and sends a cancel command
// (CommandCancel) to the workers running its chunks, which cancel those
// chunks' contexts.
//
// Broadcast sends a Command (ping, stats, quit, restart, cancel) to every
// worker through the fanout worker and returns their Replies; Ping returns
// their WorkerStats.
//
// # What comes next
//
// Single calls and futures of one item (the tasks issue) belong here, in
// call.go, on the same fast path as a one-item map; durable background,
// scheduled and periodic tasks are package tasks, which builds on this
// one (see README's "Rooms for what comes next").
package pool
