// Package benchenv holds what several bench programs set up the same way:
// a cluster of real `glimpse-cluster worker` processes around a managed
// gearmand, and a CPU-bound item of a known cost.
package benchenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/internal/gearmand"
	"github.com/glimpse-go/glimpse/pool"
)

// WriteConfig writes a config.ini in dir whose [client] points at the job
// server addr, with quiet workers, and returns its path.
func WriteConfig(dir, addr string) (string, error) {
	path := filepath.Join(dir, "config.ini")
	text := fmt.Sprintf("[client]\njob_server_url = %s\n[worker]\nlog_level = error\n", addr)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return "", fmt.Errorf("benchenv: write config: %w", err)
	}
	return path, nil
}

// Workers is a set of `glimpse-cluster -c CONFIG worker -n SLOTS`
// processes. Its methods are not safe for concurrent use.
type Workers struct {
	bin, cfgPath string
	slots        int
	procs        []*exec.Cmd
	// Args, if set, gives the i-th process started more arguments of
	// the worker command (say -cpuprofile FILE).
	Args func(i int) []string
}

// NewWorkers returns an empty set; Start adds processes.
func NewWorkers(bin, cfgPath string, slots int) *Workers {
	return &Workers{bin: bin, cfgPath: cfgPath, slots: slots}
}

// Start starts n more worker processes. They die with this program
// (Pdeathsig), so a crashed benchmark leaves none behind.
func (w *Workers) Start(n int) error {
	for range n {
		args := []string{"-c", w.cfgPath, "worker", "-n", strconv.Itoa(w.slots)}
		if w.Args != nil {
			args = append(args, w.Args(len(w.procs))...)
		}
		c := exec.Command(w.bin, args...)
		c.Stderr = os.Stderr
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := c.Start(); err != nil {
			return fmt.Errorf("benchenv: start %s: %w", w.bin, err)
		}
		w.procs = append(w.procs, c)
	}
	return nil
}

// Len is the number of running worker processes.
func (w *Workers) Len() int { return len(w.procs) }

// Process is the i-th worker process.
func (w *Workers) Process(i int) *os.Process { return w.procs[i].Process }

// Kill sends SIGKILL to the i-th worker process, reaps it and drops it
// from the set.
func (w *Workers) Kill(i int) error {
	c := w.procs[i]
	if err := c.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("benchenv: kill worker pid %d: %w", c.Process.Pid, err)
	}
	c.Wait() // the error is the signal we sent
	w.procs = append(w.procs[:i], w.procs[i+1:]...)
	return nil
}

// Stop drains every worker (SIGTERM), kills those still running after 5s,
// and reaps them all.
func (w *Workers) Stop() {
	Terminate(w.procs)
	w.procs = nil
}

// WaitSlots polls the job server through p until exactly slots worker
// slots serve the registered function fn (so a killed worker has also
// gone from its list), for at most a minute.
func WaitSlots(ctx context.Context, p *pool.Pool, fn string, slots int) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		got, err := p.WorkerSlots(ctx, fn)
		if err == nil && got == slots {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("benchenv: waiting for %d worker slots of %s (last: %d, %v): %w", slots, fn, got, err, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// PrimeRanges returns n ranges for funcs.CountPrimes whose prime count
// costs about cost of CPU each.
func PrimeRanges(n int, cost time.Duration) []funcs.Range {
	width := calibrate(cost)
	ranges := make([]funcs.Range, n)
	for i := range ranges {
		lo := int64(1_000_000_000) + int64(i)*width
		ranges[i] = funcs.Range{Lo: lo, Hi: lo + width}
	}
	return ranges
}

// calibrate finds a range width whose prime count takes about d of CPU
// here. It measures the thread's CPU time, not the wall clock, so that
// other load on the machine does not shrink the items.
func calibrate(d time.Duration) int64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	width := int64(100)
	for {
		start := threadCPU()
		for i := range 20 {
			lo := int64(1_000_000_000) + int64(i)*width
			funcs.CountPrimes.Call(context.Background(), funcs.Range{Lo: lo, Hi: lo + width})
		}
		took := (threadCPU() - start) / 20
		if took >= d/2 {
			return max(1, int64(float64(width)*float64(d)/float64(took)))
		}
		width *= 2
	}
}

// threadCPU is the CPU time of the calling OS thread.
func threadCPU() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_THREAD, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Terminate sends SIGTERM to every started process, kills those still
// running after 5s, and reaps them all, so their ProcessState is set.
func Terminate(cmds []*exec.Cmd) {
	for _, c := range cmds {
		c.Process.Signal(syscall.SIGTERM)
	}
	for _, c := range cmds {
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			c.Process.Kill()
			<-done
		}
	}
}

// StartGearmand starts a quiet gearmand with args added, logging to
// dir/gearmand.log.
func StartGearmand(ctx context.Context, dir string, args ...string) (*gearmand.Process, error) {
	return gearmand.Start(ctx, gearmand.Options{
		Args:    append([]string{"--verbose=ERROR"}, args...),
		LogFile: filepath.Join(dir, "gearmand.log"),
	})
}

// ParseList parses a flag's "1,2,3" into numbers of at least min.
func ParseList(name, list string, min int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < min {
			return nil, fmt.Errorf("%s: %q is not a number >= %d", name, f, min)
		}
		out = append(out, n)
	}
	return out, nil
}
