package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

// peerScripts are the peers peerbench knows, by -peers name.
var peerScripts = map[string]string{
	"multiprocessing": "mp_peer.py",
	"dask":            "dask_peer.py",
	"ipyparallel":     "ipp_peer.py",
	"celery":          "celery_peer.py",
}

// peerModules are the Python modules whose absence means the peer's
// Debian package is not installed.
var peerModules = map[string]string{
	"multiprocessing": "multiprocessing",
	"dask":            "distributed",
	"ipyparallel":     "ipyparallel",
	"celery":          "celery",
}

// runPeer runs one peer's script in a process group of its own, under
// s.peerTimeout, and collects the figures it printed (as many as it got
// to: a peer killed half way keeps the workloads it finished).
func runPeer(ctx context.Context, s settings, name string) benchjson.PeerRun {
	run := benchjson.PeerRun{Name: name}
	fmt.Printf("\n%s (%s)\n", name, scriptPath(s, name))
	if err := checkModule(ctx, s, name); err != nil {
		run.Error = err.Error()
		fmt.Printf("  not measured: %s\n", run.Error)
		return run
	}
	ctx, cancel := context.WithTimeout(ctx, s.peerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.python, append([]string{scriptPath(s, name)}, peerArgs(s)...)...)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+s.dir, "PYTHONDONTWRITEBYTECODE=1")
	cmd.Stderr = os.Stderr
	// Its own group, so that the whole of it (redis-server, the Celery
	// worker, Dask's nannies) goes on timeout; and it dies with peerbench.
	// SIGTERM first: the script then stops its pool, which matters for
	// ipyparallel, whose controller and engines run in sessions of their
	// own; SIGKILL for what is left once it has exited or WaitDelay ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		run.Error = err.Error()
		return run
	}
	readPeer(stdout, &run)
	err = cmd.Wait()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // anything it left behind
	if run.Error == "" && err != nil {
		run.Error = err.Error()
		if ctx.Err() != nil {
			run.Error = fmt.Sprintf("did not finish within %v (%d workloads done)", s.peerTimeout, len(run.Results))
		}
	}
	if run.Error != "" {
		fmt.Printf("  %s\n", run.Error)
	}
	return run
}

// checkModule says whether the peer's Python module imports at all, so
// that a missing package is reported as such.
func checkModule(ctx context.Context, s settings, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, s.python, "-c", "import "+peerModules[name]).CombinedOutput()
	if err != nil {
		last := strings.TrimSpace(string(out))
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		return fmt.Errorf("not installed (%s -c 'import %s': %v: %s; scripts/install-bench-deps.sh installs it)", s.python, peerModules[name], err, last)
	}
	return nil
}

func peerArgs(s settings) []string {
	var trivial []string
	for _, n := range s.Trivial {
		trivial = append(trivial, strconv.Itoa(n))
	}
	return []string{"--workers", strconv.Itoa(s.workers), "--trivial", strings.Join(trivial, ","),
		"--cpu-items", strconv.Itoa(s.CPUItems), "--cost-ms", strconv.FormatFloat(float64(s.cost)/1e6, 'g', -1, 64),
		"--latency-calls", strconv.Itoa(s.LatencyCalls), "--large-items", strconv.Itoa(s.LargeItems),
		"--large-bytes", strconv.Itoa(s.LargeBytes), "--concurrent", strconv.Itoa(s.Concurrent), "--one-by-one", strconv.Itoa(s.OneByOne),
		"--rounds", strconv.Itoa(s.rounds), "--round-budget", strconv.FormatFloat(s.roundBudget.Seconds(), 'g', -1, 64),
		"--workload-timeout", strconv.FormatFloat(s.workloadTimeout.Seconds(), 'g', -1, 64)}
}

// readPeer reads the script's lines: PEER {name, version}, SETUP
// {seconds | error}, then RESULT {...} per workload.
func readPeer(r io.Reader, run *benchjson.PeerRun) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		kind, body, _ := strings.Cut(sc.Text(), " ")
		var err error
		switch kind {
		case "PEER":
			var p struct{ Name, Version string }
			if err = json.Unmarshal([]byte(body), &p); err == nil {
				run.Name, run.Version = p.Name, p.Version
				fmt.Printf("  %s\n", p.Version)
			}
		case "SETUP":
			var p struct {
				Seconds float64
				Error   string
			}
			if err = json.Unmarshal([]byte(body), &p); err == nil {
				run.SetupS = p.Seconds
				if p.Error != "" {
					run.Error = "set-up failed: " + p.Error
				}
			}
		case "RESULT":
			var res benchjson.PeerResult
			if err = json.Unmarshal([]byte(body), &res); err == nil {
				printResult(res)
				run.Results = append(run.Results, res)
			}
		default:
			err = errors.New("unknown line")
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "peerbench: %s: %q: %v\n", run.Name, sc.Text(), err)
		}
	}
}
