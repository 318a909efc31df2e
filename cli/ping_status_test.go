package cli

import (
	"errors"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

func TestParseSecondsOrDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"2": 2 * time.Second, "2.5": 2500 * time.Millisecond, "0.1": 100 * time.Millisecond,
		"500ms": 500 * time.Millisecond, "1m": time.Minute, "1m30s": 90 * time.Second, " 3 ": 3 * time.Second,
	} {
		if got, err := parseSecondsOrDuration(in); err != nil || got != want {
			t.Errorf("parseSecondsOrDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "2 s", "1e300", "NaN", "5x"} {
		if _, err := parseSecondsOrDuration(in); !errors.Is(err, errBadDuration) {
			t.Errorf("parseSecondsOrDuration(%q): %v, want errBadDuration", in, err)
		}
	}
}

// TestDurationFlagsTakeSeconds runs every command with a duration flag
// against a real local cluster, with a bare number of seconds.
func TestDurationFlagsTakeSeconds(t *testing.T) {
	ctx := testenv.Context(t)
	_, cfg := startLocal1(t, ctx)
	for _, args := range [][]string{{"ping", "-t", "2"}, {"ping", "-t", "2.5", "-via", "zmq"}, {"stats", "-t", "3"}, {"status", "-t", "2"}} {
		code, stdout, stderr := runCLI(t, append([]string{"-c", cfg}, args...)...)
		if code != exitOK {
			t.Errorf("%s: exit %d, want 0\n%s%s", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	code, _, stderr := runCLI(t, "-c", cfg, "ping", "-t", "soon")
	if code != exitUsage || !strings.Contains(stderr, `invalid value "soon" for flag -t`) || !strings.Contains(stderr, "number of seconds") {
		t.Errorf("ping -t soon: exit %d, stderr %q; want a usage error saying what -t takes", code, stderr)
	}
}

// TestPingShowsUnits: ETIME and MEAN_ETIME carry their unit.
func TestPingShowsUnits(t *testing.T) {
	ctx := testenv.Context(t)
	l, err := cluster.StartLocal(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	checkSquares(t, ctx, l.Pool())
	code, stdout, stderr := runCLI(t, "-c", writeLocalConfig(t, l.Config()), "ping", "-t", "5s")
	if code != exitOK {
		t.Fatalf("ping: exit %d\n%s%s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	header := strings.Fields(lines[0])
	if len(lines) != 2 || len(header) < 6 || header[4] != "ETIME" || header[5] != "MEAN_ETIME" {
		t.Fatalf("ping printed:\n%s", stdout)
	}
	row := strings.Fields(lines[1])
	unit := regexp.MustCompile(`^[0-9.]+(ns|µs|ms|s)$|^([0-9]+h)?([0-9]+m)?[0-9.]+s$`)
	if !unit.MatchString(row[4]) || !unit.MatchString(row[5]) || row[4] == "0s" {
		t.Errorf("ETIME %q, MEAN_ETIME %q: want durations with their unit after 15 chunks\n%s", row[4], row[5], stdout)
	}
}

// TestPingFailsWhenNoWorkerAnswers: a cluster with a fanout worker and no
// worker at all is not a successful ping.
func TestPingFailsWhenNoWorkerAnswers(t *testing.T) {
	srv := testenv.Gearmand(t)
	cfg := writeConfig(t, []string{srv.Addr()}, "[fanout]", "store = "+filepath.Join(t.TempDir(), "fanout.db"))
	startProc(t, "-c", cfg, "fanout")
	ctx := testenv.Context(t)
	testenv.Eventually(t, ctx, "the fanout worker registered", func() (bool, error) {
		return functionStatusOf(t, ctx, srv.Addr(), "fanout").Workers == 1, nil
	})
	code, stdout, stderr := runCLI(t, "-c", cfg, "ping", "-t", "2s")
	if code != exitFailure || !strings.Contains(stderr, "no worker answered") {
		t.Errorf("ping with no workers: exit %d, want 1 and \"no worker answered\"\n%s%s", code, stdout, stderr)
	}
}

// TestPingNamesSilentWorkers: a worker that the job servers list but that
// does not answer makes ping fail, and ping names it. Here it is a worker
// process whose config has no broker, asked with -via zmq.
func TestPingNamesSilentWorkers(t *testing.T) {
	ctx := testenv.Context(t)
	l, err := cluster.StartLocal(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.Config().JobServers[0]
	startProc(t, "-c", writeConfig(t, []string{addr}), "worker", "-n", "1")
	var deafID string
	testenv.Eventually(t, ctx, "the second worker registered", func() (bool, error) {
		for _, id := range listed(addr) {
			if id != l.Worker().ID() {
				deafID = id
				return true, nil
			}
		}
		return false, nil
	})
	code, stdout, stderr := runCLI(t, "-c", writeLocalConfig(t, l.Config()), "ping", "-via", "zmq", "-t", "3s")
	if code != exitFailure || !strings.Contains(stdout, l.Worker().ID()) ||
		!strings.Contains(stderr, deafID+": did not answer") || !strings.Contains(stderr, "answered by 1 workers, not by 1") {
		t.Errorf("ping -via zmq with a worker off the broker: exit %d, want 1 naming %s\n%s%s", code, deafID, stdout, stderr)
	}
	// Aimed at the worker that answers, ping succeeds.
	code, stdout, stderr = runCLI(t, "-c", writeLocalConfig(t, l.Config()), "ping", "-via", "zmq", "-t", "3s", "-w", l.Worker().ID())
	if code != exitOK {
		t.Errorf("ping -w %s: exit %d, want 0\n%s%s", l.Worker().ID(), code, stdout, stderr)
	}
}

// TestStatusHidesInternalQueues: the fanout's functions, __matchmaking and
// the workers' command queues show with -a only.
func TestStatusHidesInternalQueues(t *testing.T) {
	ctx := testenv.Context(t)
	l, cfg := startLocal1(t, ctx)
	internal := []string{"glimpse-commands_" + l.Worker().ID(), "__matchmaking", " fanout ", "subscribe_fanout"}
	code, stdout, stderr := runCLI(t, "-c", cfg, "status")
	if code != exitOK || !strings.Contains(stdout, "examples.square") {
		t.Fatalf("status: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, q := range internal {
		if strings.Contains(stdout, q) {
			t.Errorf("status shows the internal queue %q:\n%s", q, stdout)
		}
	}
	code, stdout, stderr = runCLI(t, "-c", cfg, "status", "-a")
	if code != exitOK {
		t.Fatalf("status -a: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, q := range append(internal, "examples.square") {
		if !strings.Contains(stdout, q) {
			t.Errorf("status -a does not show %q:\n%s", q, stdout)
		}
	}
}

// TestPingNamesKilledWorker: a worker killed with SIGKILL stays a
// subscriber of the fanout worker until it is pruned; ping says it did
// not answer and exits 1, while the live worker's row is still printed.
func TestPingNamesKilledWorker(t *testing.T) {
	cfg, addr, workers := startFanoutAndWorkers(t, 2)
	ctx := testenv.Context(t)
	p, err := pool.New(config.Client{JobServers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	stats, err := p.Ping(ctx)
	if err != nil || len(stats) != 2 {
		t.Fatalf("ping: %+v, %v", stats, err)
	}
	killed := workers[0].cmd.Process.Pid
	var killedID string
	for _, s := range stats {
		if s.PID == killed {
			killedID = s.WorkerID
		}
	}
	workers[0].cmd.Process.Kill()
	workers[0].wait(t, ctx)
	code, stdout, stderr := runCLI(t, "-c", cfg, "ping", "-t", "5s")
	if code != exitFailure || !strings.Contains(stderr, killedID+": ") || !strings.Contains(stderr, "answered by 1 workers, not by 1") ||
		!strings.Contains(stdout, " "+strconv.Itoa(workers[1].cmd.Process.Pid)+" ") {
		t.Errorf("ping after a worker was killed: exit %d, want 1 naming %s\n%s%s", code, killedID, stdout, stderr)
	}
}

// listed is listedWorkers for every worker of the job server at addr.
func listed(addr string) []string {
	ids, _ := listedWorkers([]string{addr}, pool.NewCommand(pool.CommandPing, time.Minute))
	return ids
}
