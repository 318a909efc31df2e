// Package fanout is a fanout worker compatible with OpenStack's gearhorn:
// it copies one Gearman job to every subscriber of a topic, and is how
// glimpse-go broadcasts commands (ping, quit, restart, stats) to its
// workers.
//
// # Protocol
//
// A Worker serves three Gearman functions, with JSON payloads:
//
//	subscribe_fanout    {"topic": "officememos", "client_id": "bob"}
//	unsubscribe_fanout  {"topic": "officememos", "client_id": "bob"}
//	fanout              {"topic": "officememos", "payload": "hello"
//	                     [, "unique": "id"] [, "background": true]
//	                     [, "collect": true] [, "timeout": seconds]}
//
// Each subscriber receives its copy as a job of the function
// "<topic>_<client_id>" (officememos_bob), with the fanout's unique id if
// one was given, so that a fanout resubmitted with the same id coalesces
// with the first. A payload that is a JSON string is delivered as its text
// (gearhorn's form); any other JSON value is delivered as JSON text.
//
// Results, as gearhorn sends them:
//   - subscribe_fanout and unsubscribe_fanout complete with no data.
//     Subscribing twice keeps one subscription; unsubscribing someone who
//     is not subscribed succeeds.
//   - A foreground fanout (the default) submits every copy at once and
//     waits for all of them, each for at most config.Fanout.CopyTimeout.
//     When all completed, the result is their count in decimal ("2");
//     otherwise the job ends with WORK_EXCEPTION and a JSON list of
//     [client_id, error] pairs, one per copy that failed (see
//     ParseCopyErrors). A copy that timed out is cancelled: it does not
//     stay queued to run later for nobody.
//   - A background fanout queues a background copy for every subscriber
//     and returns at once with the count of copies queued.
//   - With "collect": true (this package's extension) a foreground fanout
//     always completes, with a JSON object holding each subscriber's
//     reply and each failure by client id (see Collected), for example
//     {"replies": {"w1": {"pid": 42}}, "errors": {"w2": "timed out after 30s; ..."}}.
//   - "timeout" (also an extension) shortens the per-copy wait of a
//     foreground fanout below CopyTimeout, for callers with a deadline.
//
// A malformed payload ends the job with WORK_EXCEPTION naming the problem,
// such as `fanout: payload: missing "topic"`; the worker goes on.
//
// # Departures from gearhorn
//
// gearhorn's worker has bugs that this package does not copy, each with a
// test here: unsubscribe_fanout was never registered (its registration
// function returned after the first of the two) and its store had no
// unsubscribe, so every unsubscribe failed; and the foreground loop added
// every completed copy to its count again on each 0.1s pass, so the count
// was inflated and success could be reported while slow copies were still
// running. Here the count is the number of copies that completed, sent
// after the last one has ended.
//
// A foreground copy for a subscriber whose queue has no worker on any job
// server (per the admin "status" command, asked once per fanout) fails at
// once with "no worker registered for queue ...", rather than waiting out
// CopyTimeout: a broadcast such as glimpse-cluster ping then answers fast
// even just after a worker was killed. If some job server does not answer
// the admin query, every copy is submitted and may time out. Background
// copies are always queued, as gearhorn does.
//
// # Subscriber store
//
// Subscriptions live in a database/sql store (OpenStore): an SQLite file
// by default, or PostgreSQL when config.Fanout.Store is a postgres:// URL,
// which several fanout workers can share. Each worker caches the list. A
// worker subscribes itself to the topic "__matchmaking" with its own id
// and serves "__matchmaking_<id>"; after every change it makes, it sends a
// background "reload" to the other members of that topic, which re-read
// the store (and ignore their own message). The cache is also re-read
// every five minutes in case a message was lost.
//
// # Pruning
//
// A subscriber whose queue has had no worker on any job server for
// config.Fanout.PruneAfter is removed, so that a worker killed with SIGKILL,
// which never unsubscribes, does not haunt every broadcast. Each fanout
// worker watches the queues itself, in memory; nothing is pruned while a
// job server does not answer, since the missing worker may be connected
// to it. Background copies already queued for a pruned subscriber stay in
// the job server.
package fanout
