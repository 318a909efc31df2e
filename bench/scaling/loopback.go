package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchenv"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/pool"
)

func cpus() int { return runtime.NumCPU() }

// runLoopback measures every workload with servers gearmands of threads
// I/O threads on loopback and f.workers worker processes.
func runLoopback(ctx context.Context, f flags, servers, threads int) ([]Result, error) {
	dir, err := os.MkdirTemp("", "scaling")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var ps procs
	var addrs []string
	for range servers {
		gd, err := benchenv.StartGearmand(ctx, dir, "--threads="+strconv.Itoa(threads))
		if err != nil {
			return nil, err
		}
		defer gd.Stop()
		addrs = append(addrs, gd.Addr())
		ps.servers, ps.ports = append(ps.servers, gd.Pid()), append(ps.ports, gd.Port())
	}
	cfg, err := benchenv.WriteConfig(dir, strings.Join(addrs, ","))
	if err != nil {
		return nil, err
	}
	workers, err := startWorkers(cfg, f.workers, f.slots)
	defer benchenv.Terminate(workers)
	if err != nil {
		return nil, err
	}
	for _, w := range workers {
		ps.workers = append(ps.workers, w.Process.Pid)
	}
	p, err := pool.New(config.Client{JobServers: addrs})
	if err != nil {
		return nil, err
	}
	defer p.Close()
	if err := waitEveryServer(ctx, addrs, f.workers*f.slots); err != nil {
		return nil, err
	}
	var out []Result
	for _, w := range workloads {
		r, err := measure(ctx, p, w, f.jobs(w), ps)
		if err != nil {
			return nil, fmt.Errorf("%d servers, -t %d: %w", servers, threads, err)
		}
		r.Where, r.GearmandThreads, r.Slots = "loopback", threads, f.slots
		out = append(out, r)
	}
	return out, nil
}

// startWorkers starts n worker processes of this program.
func startWorkers(cfg string, n, slots int) ([]*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var cmds []*exec.Cmd
	for range n {
		c := exec.Command(exe, "-c", cfg, "worker", "-n", strconv.Itoa(slots))
		c.Env = append(os.Environ(), childEnv+"=worker")
		c.Stderr = os.Stderr
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := c.Start(); err != nil {
			return cmds, fmt.Errorf("start worker: %w", err)
		}
		cmds = append(cmds, c)
	}
	return cmds, nil
}

// waitEveryServer waits until slots worker slots serve both functions on
// each job server (a worker connects to every one).
func waitEveryServer(ctx context.Context, addrs []string, slots int) error {
	for _, a := range addrs {
		p, err := dialPool(ctx, a)
		if err != nil {
			return err
		}
		for _, fn := range []string{funcs.Square.Name(), echoBytes.Name()} {
			if err = benchenv.WaitSlots(ctx, p, fn, slots); err != nil {
				break
			}
		}
		p.Close()
		if err != nil {
			return fmt.Errorf("job server %s: %w", a, err)
		}
	}
	return nil
}

// dialPool makes a pool of the one job server at addr, retrying until
// the server listens (a gearmand just started on another host) or ctx
// ends.
func dialPool(ctx context.Context, addr string) (*pool.Pool, error) {
	for {
		p, err := pool.New(config.Client{JobServers: []string{addr}})
		if err == nil {
			return p, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("job server %s: %w (last: %w)", addr, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
