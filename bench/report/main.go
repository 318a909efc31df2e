// Command benchreport is `make bench`: it runs every bench program (built
// into bin/ by make) once, each writing its figures as JSON, and writes
// REPORT.md, one PNG chart per section and meta.json (machine, versions,
// commit, command lines) into -out, with each program's console output
// in NAME.txt next to them.
//
//	benchreport [-out bench/results] [-bin bin] [-quick] [-render-only] [-command 'make bench']
//
// BENCH_QUICK=1 in the environment (or -quick) runs smaller sizes and
// fewer rounds, for development; its report says so at the top.
// -render-only rewrites the report and charts from the JSON already in
// -out, without running anything.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

// step is one bench program run.
type step struct {
	Name    string   `json:"name"` // the JSON and log files are NAME.json, NAME.txt
	Args    []string `json:"args"` // the exact command line, the program first
	Seconds float64  `json:"seconds"`
	Error   string   `json:"error,omitempty"`
}

// Meta is what the report says about the run itself.
type Meta struct {
	Command           string    `json:"command"`
	Quick             bool      `json:"quick"`
	Started           time.Time `json:"started"`
	Finished          time.Time `json:"finished"`
	Machine           Machine   `json:"machine"`
	GoVersion         string    `json:"go_version"`
	GearmandVersion   string    `json:"gearmand_version"`
	LibgearmanVersion string    `json:"libgearman_version"`
	LibzmqVersion     string    `json:"libzmq_version"`
	Commit            string    `json:"commit"`
	Steps             []step    `json:"steps"`
}

// Machine describes the host.
type Machine struct {
	CPUs        int    `json:"cpus"`
	Model       string `json:"model"`
	MemTotalMiB int64  `json:"mem_total_mib"`
	Kernel      string `json:"kernel"`
	LoadStart   string `json:"loadavg_start"` // /proc/loadavg's 1, 5, 15 minute figures
	LoadEnd     string `json:"loadavg_end"`
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("benchreport: ")
	out := flag.String("out", "bench/results", "directory for REPORT.md, the charts and the raw figures")
	bin := flag.String("bin", "bin", "directory of the built bench programs")
	quick := flag.Bool("quick", quickEnv(), "smaller sizes and fewer rounds, for development (default from BENCH_QUICK)")
	renderOnly := flag.Bool("render-only", false, "only rewrite the report and charts from the JSON in -out")
	command := flag.String("command", "", "the command that started this run, for the report (default: this program's command line)")
	flag.Parse()
	if *command == "" {
		*command = shellJoin(os.Args)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var meta Meta
	metaPath := filepath.Join(*out, "meta.json")
	if *renderOnly {
		if err := benchjson.Read(metaPath, &meta); err != nil {
			log.Fatal(err)
		}
	} else {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			log.Fatal(err)
		}
		meta = Meta{Command: *command, Quick: *quick, Started: time.Now().UTC(), Commit: commit(),
			GoVersion:       runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
			GearmandVersion: gearmandVersion(), LibgearmanVersion: pkgVersion("libgearman", "gearmand"),
			LibzmqVersion: pkgVersion("libzmq"), Machine: machine()}
		for _, s := range plan(*bin, *out, *quick) {
			s = runStep(ctx, s, *out)
			meta.Steps = append(meta.Steps, s)
			if ctx.Err() != nil {
				log.Fatal("interrupted")
			}
		}
		meta.Finished = time.Now().UTC()
		meta.Machine.LoadEnd = loadavg()
		if err := benchjson.Write(metaPath, meta); err != nil {
			log.Fatal(err)
		}
	}
	if err := render(*out, meta); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("benchreport: wrote %s\n", filepath.Join(*out, "REPORT.md"))
	for _, s := range meta.Steps {
		if s.Error != "" {
			log.Fatalf("%s failed: %s (see %s)", s.Name, s.Error, filepath.Join(*out, s.Name+".txt"))
		}
	}
}

func quickEnv() bool {
	v := os.Getenv("BENCH_QUICK")
	return v != "" && v != "0"
}

// plan is the programs to run, with their arguments for a full or a
// quick run. A full run takes about eight minutes on two cores.
func plan(bin, out string, quick bool) []step {
	pick := func(full, dev []string) []string {
		if quick {
			return dev
		}
		return full
	}
	mk := func(name, prog string, args ...string) step {
		argv := append([]string{filepath.Join(bin, prog)}, args...)
		return step{Name: name, Args: append(argv, "-json", filepath.Join(out, name+".json"))}
	}
	return []step{
		mk("gearman", "gearmanbench", pick(
			[]string{"-workers", "1,2", "-jobs", "100000", "-rounds", "5", "-concurrency", "0"},
			[]string{"-workers", "1,2", "-jobs", "20000", "-rounds", "1", "-concurrency", "0"})...),
		mk("pool", "poolbench", pick(
			[]string{"-slots", "2", "-items", "1000000", "-cpu-items", "4000", "-cost", "1ms", "-rounds", "5",
				"-key", "-key-rounds", "9", "-one-item-calls", "2000", "-metrics", "-metrics-rounds", "15"},
			[]string{"-slots", "2", "-items", "200000", "-cpu-items", "1000", "-cost", "1ms", "-rounds", "1",
				"-key", "-key-rounds", "3", "-one-item-calls", "300", "-metrics", "-metrics-rounds", "3",
				"-small-calls", "300", "-small-concurrent-calls", "3000", "-chunk1-items", "20000"})...),
		mk("imap", "imapmem", pick(
			[]string{"-items", "1000000,10000000,100000000", "-chunksizes", "0,10000", "-workers", "2", "-slots", "1"},
			[]string{"-items", "100000,1000000", "-chunksizes", "0,10000", "-workers", "2", "-slots", "1"})...),
		mk("large", "largeitems", pick(
			[]string{"-items", "100", "-size", "1048576", "-maps", "9", "-workers", "2", "-slots", "1"},
			[]string{"-items", "100", "-size", "1048576", "-maps", "3", "-workers", "2", "-slots", "1"})...),
		mk("ping", "pingbench", pick(
			[]string{"-workers", "10,50,100", "-pings", "50", "-key"},
			[]string{"-workers", "10,50,100", "-pings", "5", "-key"})...),
		mk("recovery", "recovery", pick(
			[]string{"-workers", "2", "-slots", "1", "-items", "2000", "-cost", "2ms", "-chunksize", "10", "-fault-at", "0.3", "-rounds", "5"},
			[]string{"-workers", "2", "-slots", "1", "-items", "600", "-cost", "2ms", "-chunksize", "10", "-fault-at", "0.3", "-rounds", "1"})...),
		mk("shared", "sharedvalue", pick(
			[]string{"-items", "10000", "-size", "52428800", "-workers", "2", "-slots", "1", "-rounds", "3", "-pairs", "5"},
			[]string{"-items", "10000", "-size", "52428800", "-workers", "2", "-slots", "1", "-rounds", "1", "-pairs", "3"})...),
		mk("reduce", "reducebench", pick(
			[]string{"-items", "100000000", "-workers", "2", "-slots", "1", "-rounds", "3", "-repeat", "5"},
			[]string{"-items", "10000000", "-workers", "2", "-slots", "1", "-rounds", "1", "-repeat", "1"})...),
		// The Python peers: about three minutes in all, bounded per peer
		// (Dask's 1M-item map alone can take 40 s).
		mk("peers", "peerbench", pick(
			[]string{"-workers", "2", "-trivial", "10000,1000000", "-cpu-items", "2000", "-cost", "1ms", "-latency-calls", "500",
				"-large-items", "100", "-large-bytes", "1048576", "-concurrent", "1000", "-rounds", "3",
				"-workload-timeout", "60s", "-peer-timeout", "150s"},
			[]string{"-workers", "2", "-trivial", "10000,100000", "-cpu-items", "400", "-cost", "1ms", "-latency-calls", "100",
				"-large-items", "20", "-large-bytes", "1048576", "-concurrent", "200", "-rounds", "1", "-peer-timeout", "60s"})...),
		mk("webhook", "webhookbench", pick(
			[]string{"-calls", "20000", "-rounds", "3", "-concurrency", "64", "-workers", "2", "-slots", "64"},
			[]string{"-calls", "5000", "-rounds", "1", "-concurrency", "64", "-workers", "2", "-slots", "64"})...),
		mk("tasks", "tasksbench", pick(
			[]string{"-tasks", "20000", "-workers", "2", "-slots", "4", "-celery-tasks", "20000"},
			[]string{"-tasks", "5000", "-workers", "2", "-slots", "4", "-celery-tasks", "2000"})...),
		mk("gateway", "gatewaybench", pick(
			[]string{"-clients", "10", "-calls", "10000", "-maps", "1000", "-map-items", "100", "-big-items", "100000", "-rounds", "3", "-workers", "2", "-slots", "4"},
			[]string{"-clients", "10", "-calls", "2000", "-maps", "200", "-map-items", "100", "-big-items", "20000", "-rounds", "1", "-workers", "2", "-slots", "4"})...),
	}
}

// runStep runs one program, its output going to the terminal and to
// NAME.txt. A failure is recorded, not fatal: the other sections are
// still worth having.
func runStep(ctx context.Context, s step, out string) step {
	fmt.Printf("\n=== %s: %s\n", s.Name, shellJoin(s.Args))
	os.Remove(filepath.Join(out, s.Name+".json")) // never report a previous run's figures
	logf, err := os.Create(filepath.Join(out, s.Name+".txt"))
	if err != nil {
		s.Error = err.Error()
		return s
	}
	defer logf.Close()
	fmt.Fprintf(logf, "$ %s\n", shellJoin(s.Args))
	w := io.MultiWriter(os.Stdout, logf)
	cmd := exec.CommandContext(ctx, s.Args[0], s.Args[1:]...)
	cmd.Stdout, cmd.Stderr = w, w
	// SIGTERM first, so that the program stops its own gearmand and
	// workers.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err = cmd.Run()
	s.Seconds = time.Since(start).Seconds()
	if err != nil {
		s.Error = err.Error()
		fmt.Fprintf(logf, "benchreport: %s: %v\n", s.Name, err)
	}
	return s
}

// shellJoin quotes args for a POSIX shell where needed.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./,:@%+") == "" {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

// commit is the short HEAD commit, with -dirty if the tree has changes
// other than this report's own files.
func commit() string {
	head, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown (git rev-parse failed)"
	}
	c := strings.TrimSpace(string(head))
	status, err := exec.Command("git", "status", "--porcelain").Output()
	if err != nil {
		return c + " (git status failed)"
	}
	for line := range strings.Lines(string(status)) {
		if len(line) > 3 && !strings.HasPrefix(line[3:], "bench/results/") {
			return c + "-dirty"
		}
	}
	return c
}

func gearmandVersion() string {
	bin, err := exec.LookPath("gearmand")
	if err != nil {
		bin = "/usr/sbin/gearmand"
	}
	v, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(v)), "\n")
	first, _, _ = strings.Cut(first, " - ")
	return strings.TrimPrefix(first, "gearmand ")
}

// pkgVersion asks pkg-config for the first of names it knows.
func pkgVersion(names ...string) string {
	for _, n := range names {
		if v, err := exec.Command("pkg-config", "--modversion", n).Output(); err == nil {
			return strings.TrimSpace(string(v))
		}
	}
	return "unknown"
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Model: "unknown", LoadStart: loadavg()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				m.MemTotalMiB = kib / 1024
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(data))
	}
	return m
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := bytes.Fields(data)
	if len(f) < 3 {
		return "unknown"
	}
	return string(bytes.Join(f[:3], []byte(" ")))
}

// errMissing marks a section whose program produced no figures.
var errMissing = errors.New("no figures")
