package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PostgresDB is the database Postgres creates for the test.
const PostgresDB = "glimpse_test"

// postgresInstallHint is the message of a test that needs PostgreSQL on a
// machine without it.
const postgresInstallHint = "testenv: PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: " +
	"install the Debian package postgresql (bash scripts/install-deps.sh, or apt-get install postgresql)"

const (
	postgresReadyTimeout = 30 * time.Second
	postgresStopGrace    = 10 * time.Second
	postgresPortAttempts = 5
)

// Postgres starts a real PostgreSQL server for the test, from the Debian
// package's binaries, and returns the URL of an empty database on it:
// postgres://postgres@127.0.0.1:PORT/glimpse_test?sslmode=disable. The
// server has its own data directory under t.TempDir(), listens on a free
// loopback port only (no Unix socket), trusts local connections and runs
// with fsync off: a throwaway server, fast to start. t.Cleanup stops it
// (fast shutdown, then SIGKILL); a failed test gets the tail of its log.
// Without PostgreSQL installed the test fails with the install hint.
//
// PostgreSQL refuses to run as root, so when the test runs as root the
// server runs as the "postgres" system user that the Debian package
// creates, in a data directory owned by that user.
func Postgres(t testing.TB) string {
	t.Helper()
	bin, err := postgresBin()
	if err != nil {
		t.Fatal(err)
	}
	cred, err := postgresCredential()
	if err != nil {
		t.Fatal(err)
	}
	dir := postgresDir(t, cred)
	data := filepath.Join(dir, "data")
	logPath := filepath.Join(dir, "postgres.log")
	initPostgres(t, bin, dir, data, cred)
	srv := startPostgresOnFreePort(t, bin, data, logPath, cred)
	createPostgresDB(t, bin, srv.port)
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", srv.port, PostgresDB)
}

// postgresDir returns the test's directory for the server, owned by the
// server's user when that is not ourselves.
func postgresDir(t testing.TB, cred *syscall.Credential) string {
	t.Helper()
	dir := t.TempDir()
	if cred != nil {
		// t.TempDir's parent is private to root (0700); the server's user
		// must be able to walk into it.
		if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
			t.Fatalf("testenv: postgres: %v", err)
		}
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatalf("testenv: postgres: %v", err)
		}
	}
	return dir
}

// initPostgres creates the data directory data in dir, as the server's
// user.
func initPostgres(t testing.TB, bin, dir, data string, cred *syscall.Credential) {
	t.Helper()
	// -A trust since only this test connects, --no-sync and -E/--locale
	// for speed and a predictable setup.
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = postgresProcAttr(cred)
	initdb.Dir = dir // initdb warns when it cannot return to a root-only cwd
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("testenv: postgres initdb: %v\n%s", err, out)
	}
}

// startPostgresOnFreePort starts the server on a free port, trying
// another one when the port was taken before the server bound it, and
// stops it in t.Cleanup, logging its log's tail if the test failed.
func startPostgresOnFreePort(t testing.TB, bin, data, logPath string, cred *syscall.Credential) *postgresServer {
	t.Helper()
	var srv *postgresServer
	for attempt := 1; ; attempt++ {
		var err error
		srv, err = startPostgres(bin, data, logPath, FreePort(t), cred)
		if err == nil {
			break
		}
		// The free port may have been taken before the server bound it.
		if attempt == postgresPortAttempts || !strings.Contains(err.Error(), "could not bind") &&
			!strings.Contains(err.Error(), "could not create any TCP/IP sockets") {
			t.Fatalf("testenv: %v", err)
		}
	}
	t.Cleanup(func() {
		if err := srv.stop(); err != nil {
			t.Errorf("testenv: stop postgres on port %d: %v", srv.port, err)
		}
		if t.Failed() {
			tail, _ := tailFile(logPath, logTailLines)
			t.Logf("last %d lines of postgres log %s (port %d):\n%s", logTailLines, logPath, srv.port, tail)
		}
	})
	return srv
}

// createPostgresDB creates the database PostgresDB on the server at port.
func createPostgresDB(t testing.TB, bin string, port int) {
	t.Helper()
	createdb := exec.Command(filepath.Join(bin, "createdb"), "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-U", "postgres", PostgresDB)
	createdb.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10")
	if out, err := createdb.CombinedOutput(); err != nil {
		t.Fatalf("testenv: postgres createdb: %v\n%s", err, out)
	}
}

// postgresGlob is where Debian installs each PostgreSQL version; a
// variable so that a test can pretend it is missing.
var postgresGlob = "/usr/lib/postgresql/*/bin"

// postgresBin returns the bin directory of the newest installed version.
func postgresBin() (string, error) {
	dirs, _ := filepath.Glob(postgresGlob)
	var ok []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			ok = append(ok, d)
		}
	}
	if len(ok) == 0 {
		return "", errors.New(postgresInstallHint)
	}
	version := func(d string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		return v
	}
	slices.SortFunc(ok, func(a, b string) int { return version(a) - version(b) })
	return ok[len(ok)-1], nil
}

// postgresCredential is the user the server runs as: nil (ourselves)
// unless we are root.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("testenv: PostgreSQL refuses to run as root and there is no postgres user to run it as (%v); "+
			"the Debian package postgresql creates it", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("testenv: postgres user has uid %q gid %q", u.Uid, u.Gid)
	}
	// No supplementary groups, rather than root's.
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

func postgresProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Credential: cred,
		// Own process group, so that cleanup can kill the backends too.
		Setpgid: true,
		// The server dies with the test binary. Go sets it after switching
		// user, so the kernel does not clear it on the credential change.
		Pdeathsig: syscall.SIGKILL,
	}
}

type postgresServer struct {
	cmd  *exec.Cmd
	port int
	done chan struct{} // closed when the postmaster is reaped
}

func startPostgres(bin, data, logPath string, port int, cred *syscall.Credential) (*postgresServer, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	start := time.Now()
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		// No Unix socket: t.TempDir paths can pass the 107-byte socket
		// path limit, and every client here uses TCP.
		"-c", "unix_socket_directories=",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = filepath.Dir(data)
	cmd.SysProcAttr = postgresProcAttr(cred)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s := &postgresServer{cmd: cmd, port: port, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	for {
		select {
		case <-s.done:
			tail, _ := tailFile(logPath, 20)
			return nil, fmt.Errorf("postgres exited before it was ready on port %d: %v\n%s", port, cmd.ProcessState, tail)
		default:
		}
		ready := exec.Command(filepath.Join(bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "1")
		if ready.Run() == nil {
			return s, nil
		}
		if time.Since(start) > postgresReadyTimeout {
			s.stop()
			tail, _ := tailFile(logPath, 20)
			return nil, fmt.Errorf("postgres not ready on port %d after %v\n%s", port, postgresReadyTimeout, tail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop asks for a fast shutdown (SIGINT: sessions are ended, not waited
// for), then kills the whole process group if it takes too long.
func (s *postgresServer) stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	t := time.NewTimer(postgresStopGrace)
	defer t.Stop()
	select {
	case <-s.done:
		return nil
	case <-t.C:
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
	return fmt.Errorf("no fast shutdown within %v; killed", postgresStopGrace)
}

// tailFile returns the last n lines of a small file.
func tailFile(path string, n int) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n"))), nil
}
