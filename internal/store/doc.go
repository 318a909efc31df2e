// Package store opens the SQL database that the cluster's stateful rooms
// share: an SQLite file by default (one host, no server to run), or
// PostgreSQL when processes on several hosts share the state (a dsn of
// postgres://...).
//
// The database is shared, the tables are not: each room owns its tables,
// names them glimpse_<room>_<what>, and creates them with DB.Migrate when
// it opens the database. Today that is the fanout worker's subscriber list
// (package fanout); the task records, idempotency keys, schedules and
// rate-limit state of the tasks room will live beside it, so one
// [fanout] store (or its successor key) points a whole cluster at one
// database.
//
// Queries are written once, with '?' placeholders and SQL that both
// databases accept (ON CONFLICT DO NOTHING, BIGINT Unix milliseconds for
// times); DB.Q rewrites the placeholders for PostgreSQL.
package store
