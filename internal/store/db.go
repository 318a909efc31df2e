package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	// pgx's database/sql driver: the maintained PostgreSQL driver for Go
	// (lib/pq is in maintenance mode and points to it).
	_ "github.com/jackc/pgx/v5/stdlib"
	// modernc.org/sqlite is SQLite translated to Go: no cgo, so the
	// glimpse-cluster binary stays a static, cross-compilable file, and it
	// tracks upstream SQLite releases closely. mattn/go-sqlite3 would need a
	// C compiler on every machine that builds the binary.
	_ "modernc.org/sqlite"
)

// Dialect is the kind of database behind a DB.
type Dialect int

// The dialects Open knows.
const (
	SQLite Dialect = iota
	Postgres
)

// DB is an open database: database/sql's handle, its dialect, and a name
// for messages that never holds a password.
type DB struct {
	*sql.DB
	Dialect Dialect
	// Name is the SQLite path as given, or "postgres" (a URL may hold a
	// password).
	Name string
	// sqliteURI is what sql.Open was given for an SQLite file ("" for
	// ":memory:" and PostgreSQL): a checkpointer opens its own connection.
	sqliteURI string
}

// IsPostgres says whether dsn names a PostgreSQL database rather than an
// SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens the database named by dsn. A dsn starting with postgres:// or
// postgresql:// is a PostgreSQL connection URL (pgx syntax); anything else
// is the path of an SQLite file, created mode 0600 if missing (a symlink,
// another user's file or a directory others may write to is refused with
// an *UnsafePathError), and ":memory:" is a private in-memory database.
// ctx bounds the first connection.
func Open(ctx context.Context, dsn string) (*DB, error) {
	if IsPostgres(dsn) {
		return openPostgres(ctx, dsn)
	}
	return openSQLite(ctx, dsn)
}

// ErrEmptyPath is returned by Open for an empty SQLite path.
var ErrEmptyPath = errors.New("store: empty SQLite path")

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, ErrEmptyPath
	}
	name := path
	if path != ":memory:" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("store %s: %w", path, err)
		}
		if err := prepareFile(abs); err != nil {
			return nil, fmt.Errorf("store %s: %w", path, err)
		}
		// A file: URI escapes whatever the path holds ('?', '#', '%'),
		// which a plain name followed by "?_pragma=..." would not.
		name = (&url.URL{Scheme: "file", Path: abs}).String()
	}
	// WAL lets a restarted worker (or the CLI) read while another writes;
	// busy_timeout makes writers from several processes wait for each
	// other instead of failing with SQLITE_BUSY.
	q := url.Values{"_pragma": {"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)"}}
	sdb, err := sql.Open("sqlite", name+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	// One connection: SQLite serialises writers anyway, and a single
	// connection cannot get SQLITE_BUSY from itself; for ":memory:" it is
	// also what keeps every query on the same database.
	sdb.SetMaxOpenConns(1)
	sdb.SetConnMaxLifetime(0)
	sdb.SetConnMaxIdleTime(0)
	db := &DB{DB: sdb, Dialect: SQLite, Name: path}
	if path != ":memory:" {
		db.sqliteURI = name + "?" + q.Encode()
	}
	// The first connection applies the pragmas; the switch to WAL can
	// meet SQLITE_BUSY when several processes open a new file at once.
	if err := retryBusy(ctx, func() error { return sdb.PingContext(ctx) }); err != nil {
		sdb.Close()
		return nil, db.Wrap("open", err)
	}
	return db, nil
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	sdb, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store postgres: %w", redact(err, dsn))
	}
	sdb.SetMaxOpenConns(8)
	sdb.SetMaxIdleConns(2)
	db := &DB{DB: sdb, Dialect: Postgres, Name: "postgres"}
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, db.Wrap("open", redact(err, dsn))
	}
	return db, nil
}

// redact keeps a password in the URL out of error messages.
func redact(err error, dsn string) error {
	u, perr := url.Parse(dsn)
	if perr != nil || u.User == nil {
		return err
	}
	if pw, ok := u.User.Password(); ok && pw != "" && strings.Contains(err.Error(), pw) {
		return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
	}
	return err
}

// Q turns the '?' placeholders of query into PostgreSQL's $1, $2, ... on
// PostgreSQL, and returns it unchanged on SQLite.
func (db *DB) Q(query string) string {
	if db.Dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Wrap names the database and the operation in err.
func (db *DB) Wrap(op string, err error) error {
	return fmt.Errorf("store %s: %s: %w", db.Name, op, err)
}
