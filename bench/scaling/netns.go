package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchenv"
	"github.com/glimpse-go/glimpse/bench/internal/scalemodel"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/netns"
	"github.com/glimpse-go/glimpse/pool"
)

// prefixTag starts the prefix of the namespaces a -netns run makes.
const prefixTag = "sc"

// gearmandPort is the port of both job servers, each on its own host.
const gearmandPort = 4730

// jobServerHosts are the hosts of scripts/netns-cluster.sh that run a
// gearmand: its job server host and the broker host (no broker runs).
var jobServerHosts = []string{"gearmand", "broker"}

// clientArgsEnv carries the client child's brief, as JSON.
const clientArgsEnv = "GLIMPSE_SCALING_CLIENT"

// clientBrief is what the client child on host client measures.
type clientBrief struct {
	Servers     []string       `json:"servers"`
	ServerPIDs  []int          `json:"server_pids"`
	WorkerPIDs  []int          `json:"worker_pids"`
	Slots       int            `json:"slots"`
	Jobs        map[string]int `json:"jobs"` // by case
	Threads     int            `json:"threads"`
	WaitTimeout time.Duration  `json:"wait_timeout"`
}

// Check is the -netns comparison, one row per case.
type Check struct {
	Prefix string     `json:"prefix"`
	Rows   []CheckRow `json:"rows"`
}

// CheckRow compares a netns run with the model's prediction from the
// loopback costs of the same case, 2 servers, same gearmand -t.
type CheckRow struct {
	Measured Result `json:"measured"`
	// PredictedJobsPerS: the machine's CPUs as the one budget of every
	// process (all namespaces share them); PredictedAtOurCores: the CPU
	// the measured processes actually got in the run as the budget.
	PredictedJobsPerS   float64 `json:"predicted_jobs_per_s"`
	PredictedAtOurCores float64 `json:"predicted_at_our_cores"`
	PredictedLimit      string  `json:"predicted_limit"`
	// Gearmand's share of the processes' CPU, predicted and measured.
	PredictedGearmandShare float64 `json:"predicted_gearmand_share"`
	MeasuredGearmandShare  float64 `json:"measured_gearmand_share"`
}

// runNetns makes the namespaces, starts two gearmands and a worker per
// worker host, runs the client child on host client and compares.
func runNetns(ctx context.Context, f flags, loop []Result) (*Check, error) {
	if err := netns.ReapStale(ctx, prefixTag); err != nil && !errors.Is(err, netns.ErrUnsupported) {
		log.Printf("removing stale namespaces: %v", err)
	}
	c, err := netns.Up(ctx, netns.NewPrefix(prefixTag))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if f.netnsMTU > 0 {
		if err := setMTU(c, f.netnsMTU); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "scaling-netns")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	brief, cmds, err := startHosts(c, f, dir, exe)
	defer benchenv.Terminate(cmds)
	if err != nil {
		return nil, err
	}
	measured, err := runClient(ctx, c, exe, brief)
	if err != nil {
		return nil, err
	}
	chk := compare(c.Prefix(), measured, loop, f)
	printCheck(chk, len(brief.WorkerPIDs), f)
	return chk, nil
}

// startHosts starts a gearmand on each of jobServerHosts and a worker
// process of exe on each worker host, and returns the client's brief and
// the processes (also those started before an error).
func startHosts(c *netns.Cluster, f flags, dir, exe string) (clientBrief, []*exec.Cmd, error) {
	brief := clientBrief{Slots: f.slots, Threads: f.netnsThreads, Jobs: map[string]int{}, WaitTimeout: time.Minute}
	for _, w := range workloads {
		brief.Jobs[w.name] = f.jobs(w)
	}
	var cmds []*exec.Cmd
	for _, h := range jobServerHosts {
		cmd, err := startIn(c, h, nil, "gearmand", "--listen="+c.Addr(h), "--port="+strconv.Itoa(gearmandPort),
			"--threads="+strconv.Itoa(f.netnsThreads), "--log-file="+filepath.Join(dir, h+".log"),
			"--pid-file="+filepath.Join(dir, h+".pid"), "--config-file="+os.DevNull, "--verbose=ERROR")
		if err != nil {
			return brief, cmds, err
		}
		cmds = append(cmds, cmd)
		brief.Servers = append(brief.Servers, c.Addr(h)+":"+strconv.Itoa(gearmandPort))
		brief.ServerPIDs = append(brief.ServerPIDs, cmd.Process.Pid)
	}
	cfg := filepath.Join(dir, "config.ini")
	text := fmt.Sprintf("[client]\njob_server_url = %s\n[worker]\nlog_level = error\n", strings.Join(brief.Servers, ","))
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		return brief, cmds, err
	}
	for _, h := range c.WorkerHosts() {
		cmd, err := startIn(c, h, []string{childEnv + "=worker"}, exe, "-c", cfg, "worker", "-n", strconv.Itoa(f.slots))
		if err != nil {
			return brief, cmds, err
		}
		cmds = append(cmds, cmd)
		brief.WorkerPIDs = append(brief.WorkerPIDs, cmd.Process.Pid)
	}
	return brief, cmds, nil
}

// setMTU sets the MTU of every host's eth0 and of its port on the switch
// (veth pairs; the bridge follows its ports).
func setMTU(c *netns.Cluster, mtu int) error {
	for _, h := range c.Hosts() {
		for _, args := range [][]string{
			{"-n", c.Namespace(h), "link", "set", "dev", "eth0", "mtu", strconv.Itoa(mtu)},
			{"-n", c.Namespace("switch"), "link", "set", "dev", h, "mtu", strconv.Itoa(mtu)},
		} {
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
			}
		}
	}
	return nil
}

// startIn starts name on host, dying with this program.
func startIn(c *netns.Cluster, host string, env []string, name string, args ...string) (*exec.Cmd, error) {
	cmd := c.Command(host, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s on %s: %w", name, host, err)
	}
	return cmd, nil
}

// runClient runs this program as the client on host client and reads its
// results.
func runClient(ctx context.Context, c *netns.Cluster, exe string, brief clientBrief) ([]Result, error) {
	data, err := json.Marshal(brief)
	if err != nil {
		return nil, err
	}
	cmd := c.Command("client", exe)
	cmd.Env = append(os.Environ(), childEnv+"=client", clientArgsEnv+"="+string(data))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("the client on host client: %w", err)
	}
	var rs []Result
	if err := json.Unmarshal(out.Bytes(), &rs); err != nil {
		return nil, fmt.Errorf("the client's answer %q: %w", out.String(), err)
	}
	return rs, nil
}

// netnsClient is the client child: it measures every workload against
// the job servers of its brief and prints the results as JSON.
func netnsClient() {
	log.SetFlags(0)
	log.SetPrefix("scaling client: ")
	var b clientBrief
	if err := json.Unmarshal([]byte(os.Getenv(clientArgsEnv)), &b); err != nil {
		log.Fatalf("$%s: %v", clientArgsEnv, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wctx, wcancel := context.WithTimeout(ctx, b.WaitTimeout)
	defer wcancel()
	if err := waitEveryServer(wctx, b.Servers, len(b.WorkerPIDs)*b.Slots); err != nil {
		log.Fatal(err)
	}
	p, err := pool.New(config.Client{JobServers: b.Servers})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	var rs []Result
	for _, w := range workloads {
		r, err := measure(ctx, p, w, b.Jobs[w.name], procs{servers: b.ServerPIDs, workers: b.WorkerPIDs, ports: ports(len(b.ServerPIDs))})
		if err != nil {
			log.Fatal(err)
		}
		r.Where, r.GearmandThreads, r.Slots = "netns", b.Threads, b.Slots
		rs = append(rs, r)
	}
	emit(rs)
}

// ports is the job servers' ports: the same on every host.
func ports(n int) []int {
	ps := make([]int, n)
	for i := range ps {
		ps[i] = gearmandPort
	}
	return ps
}

// compare predicts each netns row from the loopback costs.
func compare(prefix string, measured, loop []Result, f flags) *Check {
	chk := &Check{Prefix: prefix}
	for _, m := range measured {
		row := CheckRow{Measured: m, MeasuredGearmandShare: m.GearmandUs / (m.ClientUs + m.GearmandUs + m.WorkerUs)}
		l, ok := pick(loop, m.Case, len(jobServerHosts), f.netnsThreads)
		if ok {
			c := costsOf(l)
			row.PredictedGearmandShare = c.Server / (c.Client + c.Server + c.Worker)
			best, _, err := scalemodel.Throughput(c, scalemodel.Resources{Servers: len(jobServerHosts), SharedCores: float64(cpus())})
			if err == nil {
				row.PredictedJobsPerS, row.PredictedLimit = best.JobsPerS, best.Resource
			}
			if at, _, err := scalemodel.Throughput(c, scalemodel.Resources{Servers: len(jobServerHosts), SharedCores: m.OurCores}); err == nil {
				row.PredictedAtOurCores = at.JobsPerS
			}
		}
		chk.Rows = append(chk.Rows, row)
	}
	return chk
}

func printCheck(chk *Check, workers int, f flags) {
	var ms []Result
	for _, r := range chk.Rows {
		ms = append(ms, r.Measured)
	}
	mtu := "MTU 1500 (the script's)"
	if f.netnsMTU > 0 {
		mtu = fmt.Sprintf("MTU %d", f.netnsMTU)
	}
	printResults(fmt.Sprintf("network namespaces %s-*: 2 job servers (hosts %s), %d worker hosts x %d slots, client on host client, %s",
		chk.Prefix, strings.Join(jobServerHosts, ", "), workers, f.slots, mtu), ms)
	fmt.Printf("model vs netns, predicted from the loopback costs of 2 servers, -t %d; budget: the machine's %d CPUs shared by all hosts\n", f.netnsThreads, cpus())
	fmt.Printf("%-10s %12s %12s %9s %14s %7s %12s %12s\n", "case", "predicted", "measured", "meas/pred", "pred@ourcores", "ours", "gearmand%pred", "gearmand%meas")
	for _, r := range chk.Rows {
		fmt.Printf("%-10s %12.0f %12.0f %9.2f %14.0f %7.2f %12.1f %12.1f\n", r.Measured.Case, r.PredictedJobsPerS, r.Measured.JobsPerS,
			r.Measured.JobsPerS/r.PredictedJobsPerS, r.PredictedAtOurCores, r.Measured.OurCores,
			100*r.PredictedGearmandShare, 100*r.MeasuredGearmandShare)
	}
	fmt.Println("(predicted: jobs/s with all CPUs for these processes; pred@ourcores: with the CPU they got in the run)")
	fmt.Println()
}
