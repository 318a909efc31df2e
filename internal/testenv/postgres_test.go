package testenv

import (
	"context"
	"database/sql"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
)

func TestPostgres(t *testing.T) {
	t.Parallel()
	var dsn string
	var pid int
	t.Run("server", func(t *testing.T) {
		dsn = Postgres(t)
		if !strings.HasPrefix(dsn, "postgres://postgres@127.0.0.1:") || !strings.HasSuffix(dsn, "/"+PostgresDB+"?sslmode=disable") {
			t.Fatalf("DSN = %q", dsn)
		}
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		ctx := context.Background()
		var name, user string
		if err := db.QueryRowContext(ctx, "SELECT current_database(), current_user, pg_backend_pid()").Scan(&name, &user, new(int)); err != nil {
			t.Fatalf("query: %v", err)
		}
		if name != PostgresDB || user != "postgres" {
			t.Fatalf("connected to %q as %q, want %q as postgres", name, user, PostgresDB)
		}
		if err := db.QueryRowContext(ctx, "SELECT pg_postmaster_start_time() IS NOT NULL, (SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer')").Scan(new(bool), new(int)); err != nil {
			t.Fatalf("query: %v", err)
		}
		if _, err := db.ExecContext(ctx, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)"); err != nil {
			t.Fatalf("write: %v", err)
		}
		pid = postmasterPID(t, dsn)
		if os.Geteuid() == 0 {
			st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(st), "\nUid:\t0\t") {
				t.Fatalf("postgres runs as root:\n%s", st)
			}
		}
	})
	// The subtest's cleanup has stopped the server.
	if pid == 0 {
		return
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("postmaster %d still running after cleanup", pid)
	}
	db, _ := sql.Open("pgx", dsn)
	defer db.Close()
	if err := db.PingContext(context.Background()); err == nil {
		t.Fatal("server still answers after cleanup")
	}
}

// postmasterPID finds our postmaster: the child of this process listening
// on the DSN's port.
func postmasterPID(t *testing.T, dsn string) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if strings.Contains(s[:i+1], "(postgres)") && len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			return pid
		}
	}
	t.Fatalf("no postgres child of pid %d for %s", os.Getpid(), dsn)
	return 0
}

func TestPostgresMissingHint(t *testing.T) {
	old := postgresGlob
	postgresGlob = "/nonexistent/postgresql/*/bin"
	defer func() { postgresGlob = old }()
	_, err := postgresBin()
	if err == nil || !strings.Contains(err.Error(), "apt-get install postgresql") || !strings.Contains(err.Error(), "install-deps.sh") {
		t.Fatalf("postgresBin() error = %v, want the install hint", err)
	}
}
