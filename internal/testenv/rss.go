package testenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// PeakRSS is a process's peak resident set (VmHWM in /proc/PID/status),
// in bytes: what a test of memory limits reads after the attack.
func PeakRSS(t testing.TB, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("testenv: VmHWM line %q: %v", l, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("testenv: no VmHWM in /proc/%d/status", pid)
	return 0
}
