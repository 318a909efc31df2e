package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// clockTick is the unit of /proc's utime and stime (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time (user + system) of a process, all its threads,
// from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	return statCPU(fmt.Sprintf("/proc/%d/stat", pid))
}

// statCPU reads utime+stime from a /proc stat file (a process's or a
// thread's).
func statCPU(path string) (time.Duration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from after its closing parenthesis, where field 3 (state) is [0].
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: no ')' in %q", path, data)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("%s: %d fields after the name", path, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%s: utime %q, stime %q", path, f[11], f[12])
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// threadCPU maps each thread of pid to its CPU time.
func threadCPU(pid int) (map[string]time.Duration, error) {
	dirs, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	if err != nil || len(dirs) == 0 {
		return nil, fmt.Errorf("threads of pid %d: %v", pid, err)
	}
	m := map[string]time.Duration{}
	for _, d := range dirs {
		cpu, err := statCPU(filepath.Join(d, "stat"))
		if err != nil {
			continue // the thread ended
		}
		m[filepath.Base(d)] = cpu
	}
	return m, nil
}

// socketBytes is what the TCP connections on local port port of pid's
// network namespace (a gearmand's: its clients and workers) have sent
// and received, from ss -i run in that namespace. Connections closed
// between two calls are not counted: the pool and the workers keep theirs.
func socketBytes(pid, port int) (int64, error) {
	out, err := exec.Command("nsenter", "--net=/proc/"+strconv.Itoa(pid)+"/ns/net",
		"ss", "-Htin", "state", "established", "( sport = :"+strconv.Itoa(port)+" )").Output()
	if err != nil {
		return 0, fmt.Errorf("ss in the network namespace of pid %d: %w", pid, err)
	}
	return ssBytes(string(out))
}

// ssBytes adds up the bytes_sent and bytes_received of ss -i's output.
func ssBytes(out string) (int64, error) {
	var total int64
	for _, f := range strings.Fields(out) {
		k, v, ok := strings.Cut(f, ":")
		if !ok || (k != "bytes_sent" && k != "bytes_received") {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("ss printed %q", f)
		}
		total += n
	}
	return total, nil
}

// selfCPU is this process's CPU time.
func selfCPU() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineBusy is the CPU time all CPUs of the machine spent not idle
// (user, nice, system, irq, softirq, steal), from /proc/stat.
func machineBusy() (time.Duration, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: first line %q", line)
	}
	var busy int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %q", line)
		}
		busy += n
	}
	return time.Duration(busy) * clockTick, nil
}
