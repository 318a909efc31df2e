package benchenv

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ProcCPU returns the user+system CPU time of each process (0 for one
// whose /proc/PID/stat cannot be read), in clock ticks of 10 ms.
func ProcCPU(pids []int) []time.Duration {
	out := make([]time.Duration, len(pids))
	for i, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command's closing parenthesis; utime and stime
		// are the 14th and 15th of the line, in clock ticks (100/s).
		_, rest, _ := bytes.Cut(data, []byte(") "))
		f := strings.Fields(string(rest))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		out[i] = time.Duration(ut+st) * 10 * time.Millisecond
	}
	return out
}
