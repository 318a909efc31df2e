package fanout

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/testenv"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

// glimpseCluster builds cmd/glimpse-cluster once per test run.
func glimpseCluster(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "glimpse-fanout-test-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "glimpse-cluster")
		// go test puts its own toolchain first in PATH.
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/glimpse-go/glimpse/cmd/glimpse-cluster")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New(err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build glimpse-cluster: %v", buildErr)
	}
	return binPath
}

// syncBuffer is a bytes.Buffer safe to write from the child's output copier
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// glimpse-cluster fanout, as a real process: it serves fanouts from the
// config's job servers and store, and SIGTERM drains it and exits 0.
func TestClusterFanoutCommand(t *testing.T) {
	t.Parallel()
	bin := glimpseCluster(t)

	out, err := exec.Command(bin, "fanout", "-h").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Usage: glimpse-cluster [-c FILE] fanout") ||
		!strings.Contains(string(out), "subscribe_fanout") || !strings.Contains(string(out), "-id ID") {
		t.Fatalf("fanout -h: %v\n%s", err, out)
	}

	g := testenv.Gearmand(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.ini")
	store := filepath.Join(dir, "subscribers.db")
	ini := "[client]\njob_server_url = " + g.Addr() + "\n[fanout]\nstore = " + store + "\ncopy_timeout = 5s\n"
	if err := os.WriteFile(cfg, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", cfg, "fanout", "-id", "cli")
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("glimpse-cluster fanout output:\n%s", logs.String())
		}
	})
	waitServed(t, g.Addr(), FuncFanout, true)
	waitServed(t, g.Addr(), "__matchmaking_cli", true)

	c := newClient(t, g.Addr())
	sub := serve(t, g.Addr(), "memos_bob", nil)
	subscribe(t, c, "memos", "bob")
	if n := fanoutCount(t, c, "memos", "from the cli"); n != 1 {
		t.Fatalf("fanout = %d, want 1", n)
	}
	if got := sub.got(); len(got) != 1 || got[0] != "from the cli" {
		t.Fatalf("bob got %q", got)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("glimpse-cluster fanout did not exit after SIGTERM")
	}
	if !strings.Contains(logs.String(), "fanout worker stopped") {
		t.Errorf("no clean stop in the log")
	}
	// It left the matchmaking topic and kept bob, in the file.
	s, err := OpenStore(store)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := storeSubscribers(t, s, MatchmakingTopic); len(got) != 0 {
		t.Errorf("matchmaking subscribers after exit: %q", got)
	}
	if got := storeSubscribers(t, s, "memos"); !sameStrings(got, []string{"bob"}) {
		t.Errorf("memos subscribers after exit: %q", got)
	}
}
