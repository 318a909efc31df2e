// Package config reads glimpse-go's config.ini, the one file that tells
// every program of a cluster (clients, workers, the broker and the fanout
// worker) where the others are.
//
// A program finds the file through its -c flag or, failing that, the
// GLIMPSE_CLUSTER_CONFIG environment variable ([LoadOrEnv]). With neither,
// [ErrNoConfig] lets it start a local cluster instead.
//
// # Sections
//
//	[client]   job_server_url (required), command_frontend_url,
//	           command_backend_url, log_frontend_url, log_backend_url,
//	           tls, tls_ca_file, tls_cert_file, tls_key_file, tls_server_name,
//	           direct_data, direct_data_address
//	[server]   the same four URLs, as the broker binds them (tcp://*:9000)
//	[worker]   slots, functions, shutdown_timeout, heartbeat_interval, log_level,
//	           subscription_renewal
//	[fanout]   store, copy_timeout, prune_after
//	[queue NAME]     rate, burst, max_running: a task queue's cluster-wide limits ([Queue])
//	[periodic NAME]  schedule, function, queue, item: a periodic task ([Periodic], [ParseSchedule])
//
// The [client] and [server] keys are glimpse's own. config.ini.example at
// the top of the repository documents every key and its default.
//
// # Rules
//
//   - Every file needs [client] with at least one job server. job_server_url
//     is a comma-separated list of host:port (the port defaults to 4730;
//     IPv6 hosts go in brackets); duplicates are errors.
//   - The four broker URLs of a section are all set or all absent: a broker
//     or client with only some channels is a half-configured cluster. Each
//     is tcp://host:port, ipc://path or inproc://name; the host "*" (every
//     interface) only in [server].
//   - [client]'s four URLs differ (a broker forwards between them), or each
//     frontend equals its backend: glimpse's cluster with no broker, where
//     the client binds them and the workers connect ([Client.Direct]); then
//     the two channels differ, are not inproc, and [server] is absent. One
//     pair equal and the other not is an error.
//   - tls is true or false (also yes/no, on/off, 1/0); the other tls_* keys
//     need it on, and tls_cert_file comes with tls_key_file. With tls on,
//     the files are read as the file is loaded, so a missing or bad one is
//     an error there (see [Client.TLSConfig]).
//   - Durations are Go durations (30s, 5m, 1h30m) and positive; slots is 0
//     (one per CPU) or more; function names are 1-200 of ASCII letters,
//     digits, '.', '_', '-' and ':'; log_level is debug, info, warn or error.
//   - Unknown sections and keys, keys above the first section header and
//     keys given twice are errors: a typo must not silently fall back to a
//     default.
//   - Key names are case-insensitive, as in glimpse's Python configparser;
//     section names are not. An empty value ("key =") means the default.
//   - ';' and '#' start a comment, also after a value; put a value that
//     contains one in double quotes.
//
// # Errors
//
// Every problem is an [*Error] naming the file, line, section and key, e.g.
//
//	config.ini:3: [client] job_server_url: "host:notaport": port "notaport" is not 1-65535
//
// All problems of a file are reported at once, joined with [errors.Join];
// use [errors.As] to get at them. (A syntax error stops the reading, so it
// comes alone.) A missing file gives an error that wraps [fs.ErrNotExist].
//
// Programs that build a [Client], [Server], [Worker] or [Fanout] in code
// check it with its Validate method, which applies the same rules.
package config
