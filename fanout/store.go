package fanout

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/internal/store"
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
// database. The database is the cluster's shared one (internal/store);
// the subscriber list is its table glimpse_fanout_subscribers.
func OpenStore(dsn string) (Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
	defer cancel()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("fanout: %w", err)
	}
	if err := db.Migrate(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("fanout: %w", err)
	}
	return &sqlStore{db: db}, nil
}

type sqlStore struct {
	db *store.DB
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

func (s *sqlStore) q(query string) string { return s.db.Q(query) }

func (s *sqlStore) wrap(op string, err error) error {
	return fmt.Errorf("fanout: %w", s.db.Wrap(op, err))
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
