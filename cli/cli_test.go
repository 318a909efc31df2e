package cli

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/clustertest"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// runCLI runs the command line in this process, with no signals.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	code = run(testenv.Context(t), append([]string{"glimpse-cluster"}, args...), &out, &errOut, nil)
	return code, out.String(), errOut.String()
}

func TestHelp(t *testing.T) {
	commandsLine := []string{"worker (LaunchWorker)", "local", "status", "functions", "help"}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, append([]string{"Usage:", "glimpse-cluster [-c FILE] COMMAND", config.EnvVar}, commandsLine...)},
		{[]string{"-h"}, commandsLine},
		{[]string{"--help"}, commandsLine},
		{[]string{"-c", "whatever.ini", "help"}, commandsLine},
		{[]string{"worker", "-h"}, []string{"Usage: glimpse-cluster [-c FILE] worker [-n N] [-f FUNCS]", "SIGTERM", "-n N", "-f FUNCS", "Alias: LaunchWorker"}},
		{[]string{"help", "worker"}, []string{"Usage: glimpse-cluster [-c FILE] worker", "-n N"}},
		{[]string{"LaunchWorker", "--help"}, []string{"Usage: glimpse-cluster [-c FILE] worker"}},
		{[]string{"help", "local"}, []string{"Usage: glimpse-cluster [-c FILE] local [-n N]", "-n N", "status"}},
		{[]string{"status", "-h"}, []string{"QUEUED", "RUNNING", "WORKERS", "SLOTS", "-t TIMEOUT"}},
		{[]string{"functions", "-h"}, []string{"Usage: glimpse-cluster [-c FILE] functions"}},
		{[]string{"help", "help"}, []string{"Usage: glimpse-cluster [-c FILE] help [COMMAND]"}},
		{[]string{"help", "-h"}, []string{"Usage: glimpse-cluster [-c FILE] help [COMMAND]"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != exitOK || stderr != "" {
				t.Errorf("exit status %d, stderr %q; want 0 and nothing", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("help does not contain %q:\n%s", w, stdout)
				}
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		// Commands of later issues are not faked.
		{[]string{"nosuch"}, []string{`unknown command "nosuch"`, "commands: worker, LaunchWorker, local, status, functions, ping, PingWorkers"}},
		{nil, []string{"no command given", "Usage:"}},
		{[]string{"-x", "status"}, []string{"flag provided but not defined: -x"}},
		{[]string{"functions", "extra"}, []string{`unexpected argument "extra"`}},
		{[]string{"status", "-t", "0s"}, []string{"-t 0s: must be positive"}},
		{[]string{"local", "-n", "-2"}, []string{"-n -2"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != exitUsage {
				t.Errorf("exit status %d, want %d", code, exitUsage)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.ini")
	if err := os.WriteFile(bad, []byte("[client]\njob_server_url = host:notaport\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	typo := filepath.Join(dir, "typo.ini")
	if err := os.WriteFile(typo, []byte("[client]\njob_server_url = 127.0.0.1:4730\n[worker]\nlog-level = debug\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.ini")
	t.Setenv(config.EnvVar, "")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-c", bad, "status"}, []string{bad + ":2", "[client] job_server_url", "notaport"}},
		{[]string{"worker", "-c", typo}, []string{typo + ":4", "[worker] log-level", "did you mean log_level?"}},
		{[]string{"-c", missing, "worker"}, []string{missing, "cannot read config file"}},
		{[]string{"status"}, []string{"pass -c FILE or set " + config.EnvVar}},
		{[]string{"worker"}, []string{"pass -c FILE or set " + config.EnvVar}},
		{[]string{"-c", bad, "local"}, []string{bad + ":2"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != exitUsage {
				t.Errorf("exit status %d, want %d", code, exitUsage)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, stderr)
				}
			}
		})
	}
	// The environment variable names the file when -c does not.
	t.Setenv(config.EnvVar, bad)
	if code, _, stderr := runCLI(t, "status"); code != exitUsage || !strings.Contains(stderr, bad+":2") {
		t.Errorf("config from $%s: exit status %d, stderr %q", config.EnvVar, code, stderr)
	}
}

func TestFunctionsCommand(t *testing.T) {
	code, stdout, stderr := runCLI(t, "functions")
	if code != exitOK || stderr != "" {
		t.Fatalf("exit status %d, stderr %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "NAME GEARMAN FUNCTION" {
		t.Errorf("header %q", lines[0])
	}
	fns := wire.Functions()
	if len(lines) != len(fns)+1 {
		t.Fatalf("%d lines for %d functions:\n%s", len(lines), len(fns), stdout)
	}
	for i, f := range fns {
		if got := strings.Fields(lines[i+1]); len(got) != 2 || got[0] != f.Name() || got[1] != f.GearmanName() {
			t.Errorf("line %q, want %s %s", lines[i+1], f.Name(), f.GearmanName())
		}
	}
}

// statusTable parses the status output into rows keyed by "server
// function", checking the header and that the columns line up.
func statusTable(t *testing.T, out string) map[string][]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "JOB SERVER") {
		t.Fatalf("no header:\n%s", out)
	}
	want := []string{"JOB", "SERVER", "FUNCTION", "QUEUED", "RUNNING", "WORKERS", "SLOTS"}
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("header %q", lines[0])
	}
	// Aligned: every column starts where its header does.
	cols := []int{strings.Index(lines[0], "FUNCTION"), strings.Index(lines[0], "QUEUED"), strings.Index(lines[0], "SLOTS")}
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		if l == "" {
			break // the task counts follow
		}
		for _, c := range cols {
			if c >= len(l) || l[c-1] != ' ' || l[c] == ' ' {
				t.Fatalf("line %q is not aligned with the header %q", l, lines[0])
			}
		}
		f := strings.Fields(l)
		if len(f) != 6 {
			t.Fatalf("line %q: %d fields, want 6", l, len(f))
		}
		rows[f[0]+" "+f[1]] = f[2:]
	}
	return rows
}

func TestStatusCommand(t *testing.T) {
	ctx := testenv.Context(t)
	srv1, srv2 := testenv.Gearmand(t), testenv.Gearmand(t)
	servers := []string{srv1.Addr(), srv2.Addr()}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	hold := fakeFunc{FuncName: "test.hold", Run: func(ctx context.Context, payload []byte, _ string) ([]byte, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return payload, nil
	}}
	w, err := cluster.NewWorker(config.Client{JobServers: servers}, config.Worker{Slots: 3},
		cluster.WithFunctions(append(wire.Functions(), hold)...), cluster.WithLogger(newLogger(testWriter{T: t}, 0)))
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	go func() {
		w.Run()
		close(ran)
	}()
	t.Cleanup(func() {
		w.Close()
		<-ran
	})
	waitWorker(t, ctx, srv1.Addr(), "glimpse.test.hold")
	waitWorker(t, ctx, srv2.Addr(), "glimpse.test.hold")

	// One chunk running on srv1; a job nobody serves queued on srv2.
	c1, c2 := newClient(t, ctx, srv1.Addr()), newClient(t, ctx, srv2.Addr())
	if _, err := c1.Submit(ctx, "glimpse.test.hold", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Submit(ctx, "nobody", []byte("x")); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, ctx, "the chunk to run", func() (bool, error) {
		return functionStatusOf(t, ctx, srv1.Addr(), "glimpse.test.hold").Running == 1, nil
	})

	t.Setenv(config.EnvVar, writeConfig(t, servers))
	code, stdout, stderr := runCLI(t, "status")
	if code != exitOK || stderr != "" {
		t.Fatalf("exit status %d, stderr %q", code, stderr)
	}
	rows := statusTable(t, stdout)
	want := map[string]string{
		srv1.Addr() + " examples.square": "0 0 1 3",
		srv2.Addr() + " examples.square": "0 0 1 3",
		srv1.Addr() + " test.hold":       "0 1 1 3",
		srv2.Addr() + " test.hold":       "0 0 1 3",
		srv2.Addr() + " nobody":          "1 0 0 0",
	}
	for k, v := range want {
		if got := strings.Join(rows[k], " "); got != v {
			t.Errorf("%s: QUEUED RUNNING WORKERS SLOTS = %q, want %q\n%s", k, got, v, stdout)
		}
	}
	if _, ok := rows[srv1.Addr()+" nobody"]; ok {
		t.Errorf("srv1 lists a function only srv2 knows:\n%s", stdout)
	}
}

func TestStatusUnreachableServer(t *testing.T) {
	srv := testenv.Gearmand(t)
	dead := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	code, stdout, stderr := runCLI(t, "-c", writeConfig(t, []string{dead, srv.Addr()}), "status", "-t", "1m")
	if code != exitFailure {
		t.Errorf("exit status %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stderr, "job server "+dead) {
		t.Errorf("stderr does not name the dead server %s:\n%s", dead, stderr)
	}
	if !strings.Contains(stdout, srv.Addr()+"  (none)") {
		t.Errorf("the live server is not shown:\n%s", stdout)
	}

	// With no server answering there is no table at all.
	code, stdout, stderr = runCLI(t, "-c", writeConfig(t, []string{dead}), "status")
	if code != exitFailure || stdout != "" || !strings.Contains(stderr, "job server "+dead) {
		t.Errorf("status of a dead cluster: exit status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestLocalCommand runs "glimpse-cluster local" as a process: it prints a
// usable config, serves, and stops everything on SIGTERM.
func TestLocalCommand(t *testing.T) {
	ctx := testenv.Context(t)
	t.Setenv(config.EnvVar, "")
	p := startProc(t, "local", "-n", "2")
	out := p.stdout.Wait(t, ctx, "a whole job_server_url line", func(s string) bool {
		_, rest, ok := strings.Cut(s, "job_server_url = ")
		return ok && strings.Contains(rest, "\n")
	}, p.done)
	path := filepath.Join(t.TempDir(), "local.ini")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(path)
	if err != nil {
		t.Fatalf("the printed config does not load: %v\n%s", err, out)
	}
	addr := f.Client.JobServers[0]
	if !strings.HasPrefix(addr, "127.0.0.1:") || !strings.Contains(out, "gearmand on "+addr) {
		t.Errorf("printed config:\n%s", out)
	}
	info := waitWorker(t, ctx, addr, exampleGearmanNames...)
	if !strings.HasPrefix(info.ClientID, "glimpse/2/") {
		t.Errorf("worker client id %q, want 2 slots", info.ClientID)
	}
	code, stdout, stderr := runCLI(t, "-c", path, "status")
	if code != exitOK || !strings.Contains(stdout, "examples.square") {
		t.Errorf("status of the local cluster: %d\n%s%s", code, stdout, stderr)
	}
	gearmandPID := clustertest.AdminPID(t, ctx, addr)

	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, ctx); code != 0 {
		t.Fatalf("exit status %d, want 0", code)
	}
	if !processGone(gearmandPID) {
		t.Errorf("gearmand (pid %d) still there after local stopped", gearmandPID)
	}
}
