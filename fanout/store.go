package fanout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	// pgx's database/sql driver: the maintained PostgreSQL driver for Go
	// (lib/pq is in maintenance mode and points to it).
	_ "github.com/jackc/pgx/v5/stdlib"
	// modernc.org/sqlite is SQLite translated to Go: no cgo, so the
	// glimpse-cluster binary stays a static, cross-compilable file, and it
	// tracks upstream SQLite releases closely. mattn/go-sqlite3 would need a
	// C compiler on every machine that builds the binary.
	msqlite "modernc.org/sqlite"
)

// Subscription is one row of the subscriber store: ClientID gets a copy of
// every fanout to Topic, as a job of the Gearman function Queue().
type Subscription struct {
	Topic    string
	ClientID string
}

// Queue is the Gearman function that receives the subscriber's copies:
// "<topic>_<client_id>", as in gearhorn. The join is not reversible
// ("a_b"+"c" and "a"+"b_c" give the same queue); gearhorn's protocol
// fixes the name, so pick ids that cannot collide.
func (s Subscription) Queue() string { return s.Topic + "_" + s.ClientID }

func (s Subscription) String() string { return s.Topic + "/" + s.ClientID }

// Store keeps the subscriber list. Implementations must be safe for
// concurrent use; several fanout workers may share one store (PostgreSQL),
// each keeping a cache that the matchmaking topic tells it to reload.
type Store interface {
	// Subscribe adds clientID to topic. Subscribing twice keeps one row.
	Subscribe(ctx context.Context, topic, clientID string) error
	// Unsubscribe removes clientID from topic. Removing a subscription
	// that does not exist succeeds: the caller's wish is met either way.
	Unsubscribe(ctx context.Context, topic, clientID string) error
	// Subscribers returns the client ids subscribed to topic, sorted.
	Subscribers(ctx context.Context, topic string) ([]string, error)
	// All returns every subscription, sorted by topic then client id.
	All(ctx context.Context) ([]Subscription, error)
	// Remove deletes the given subscriptions in one transaction (pruning).
	Remove(ctx context.Context, subs ...Subscription) error
	Close() error
}

// storeOpenTimeout bounds connecting and creating the schema, since
// OpenStore takes no context.
const storeOpenTimeout = 30 * time.Second

// OpenStore opens the subscriber store named by dsn and creates its table
// if needed. A dsn starting with postgres:// or postgresql:// is a
// PostgreSQL connection URL (pgx syntax); anything else is the path of an
// SQLite file, created if missing, and ":memory:" is a private in-memory
// database.
func OpenStore(dsn string) (Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
	defer cancel()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return openPostgres(ctx, dsn)
	}
	return openSQLite(ctx, dsn)
}

type dialect int

const (
	sqlite dialect = iota
	postgres
)

type sqlStore struct {
	db      *sql.DB
	dialect dialect
	name    string // for errors: the SQLite path, or "postgres" (a URL may hold a password)
}

const table = "glimpse_fanout_subscribers"

// The schema is portable between SQLite and PostgreSQL. subscribed_at (Unix
// milliseconds) is for operators looking at the table; nothing reads it.
const schema = `CREATE TABLE IF NOT EXISTS ` + table + ` (
	topic         TEXT   NOT NULL,
	client_id     TEXT   NOT NULL,
	subscribed_at BIGINT NOT NULL,
	PRIMARY KEY (topic, client_id)
)`

func openSQLite(ctx context.Context, path string) (*sqlStore, error) {
	if path == "" {
		return nil, errors.New("fanout: store: empty SQLite path")
	}
	name := path
	if path != ":memory:" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("fanout: store %s: %w", path, err)
		}
		// A file: URI escapes whatever the path holds ('?', '#', '%'),
		// which a plain name followed by "?_pragma=..." would not.
		name = (&url.URL{Scheme: "file", Path: abs}).String()
	}
	// WAL lets a restarted worker (or the CLI) read while another writes;
	// busy_timeout makes writers from several processes wait for each
	// other instead of failing with SQLITE_BUSY.
	q := url.Values{"_pragma": {"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)"}}
	db, err := sql.Open("sqlite", name+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("fanout: store %s: %w", path, err)
	}
	// One connection: SQLite serialises writers anyway, and a single
	// connection cannot get SQLITE_BUSY from itself; for ":memory:" it is
	// also what keeps every query on the same database.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s := &sqlStore{db: db, dialect: sqlite, name: path}
	if err := createSQLiteSchema(ctx, db); err != nil {
		db.Close()
		return nil, s.wrap("open", err)
	}
	return s, nil
}

// createSQLiteSchema creates the table, retrying on SQLITE_BUSY: when
// several processes open a new store at once, the switch to WAL and a
// read transaction's upgrade to a write fail at once instead of waiting
// for busy_timeout (SQLite's deadlock avoidance). A retry gets through.
func createSQLiteSchema(ctx context.Context, db *sql.DB) error {
	const tries = 50
	for attempt := 1; ; attempt++ {
		_, err := db.ExecContext(ctx, schema)
		var se *msqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqliteBusy || attempt == tries {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(min(time.Duration(attempt)*10*time.Millisecond, 200*time.Millisecond)):
		}
	}
}

// sqliteBusy is SQLITE_BUSY, the primary result code of a locked database.
const sqliteBusy = 5

func openPostgres(ctx context.Context, dsn string) (*sqlStore, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("fanout: store postgres: %w", redact(err, dsn))
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(2)
	s := &sqlStore{db: db, dialect: postgres, name: "postgres"}
	if err := s.createPostgresSchema(ctx); err != nil {
		db.Close()
		return nil, s.wrap("open", redact(err, dsn))
	}
	return s, nil
}

// createPostgresSchema runs CREATE TABLE IF NOT EXISTS under an advisory
// lock: without it, two workers starting at once can both try to create
// the table and one fails on a unique index of the system catalog.
func (s *sqlStore) createPostgresSchema(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	const lockKey = 0x676c696d70736501 // "glimpse" + 1: any constant shared by all workers
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(`+strconv.FormatInt(lockKey, 10)+`)`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return err
	}
	return tx.Commit()
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

// q turns the '?' placeholders of query into PostgreSQL's $1, $2, ...
func (s *sqlStore) q(query string) string {
	if s.dialect != postgres {
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

func (s *sqlStore) wrap(op string, err error) error {
	return fmt.Errorf("fanout: store %s: %s: %w", s.name, op, err)
}

func (s *sqlStore) Subscribe(ctx context.Context, topic, clientID string) error {
	// ON CONFLICT DO NOTHING: SQLite 3.24+ and PostgreSQL 9.5+ both have it.
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO `+table+` (topic, client_id, subscribed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`),
		topic, clientID, time.Now().UnixMilli())
	if err != nil {
		return s.wrap("subscribe", err)
	}
	return nil
}

func (s *sqlStore) Unsubscribe(ctx context.Context, topic, clientID string) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE topic = ? AND client_id = ?`), topic, clientID)
	if err != nil {
		return s.wrap("unsubscribe", err)
	}
	return nil
}

func (s *sqlStore) Subscribers(ctx context.Context, topic string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT client_id FROM `+table+` WHERE topic = ?`), topic)
	if err != nil {
		return nil, s.wrap("subscribers", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, s.wrap("subscribers", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("subscribers", err)
	}
	// Sorted here, not by ORDER BY: the two databases collate text
	// differently, and the order should not depend on the store.
	slices.Sort(out)
	return out, nil
}

func (s *sqlStore) All(ctx context.Context) ([]Subscription, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT topic, client_id FROM `+table)
	if err != nil {
		return nil, s.wrap("list", err)
	}
	defer rows.Close()
	var out []Subscription
	for rows.Next() {
		var sub Subscription
		if err := rows.Scan(&sub.Topic, &sub.ClientID); err != nil {
			return nil, s.wrap("list", err)
		}
		out = append(out, sub)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list", err)
	}
	sortSubscriptions(out)
	return out, nil
}

func (s *sqlStore) Remove(ctx context.Context, subs ...Subscription) error {
	if len(subs) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap("remove", err)
	}
	defer tx.Rollback()
	del := s.q(`DELETE FROM ` + table + ` WHERE topic = ? AND client_id = ?`)
	for _, sub := range subs {
		if _, err := tx.ExecContext(ctx, del, sub.Topic, sub.ClientID); err != nil {
			return s.wrap("remove", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.wrap("remove", err)
	}
	return nil
}

func (s *sqlStore) Close() error { return s.db.Close() }

func sortSubscriptions(subs []Subscription) {
	slices.SortFunc(subs, func(a, b Subscription) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return strings.Compare(a.ClientID, b.ClientID)
	})
}
