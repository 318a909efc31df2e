package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchenv"
)

// Miyamoto's PERFORMANCE file measured "10000 requests, 10 concurrent,
// keepalives": ApacheBench's `ab -n 10000 -c 10 -k`. abBench sends the
// same enqueues that way, so that the figure compares with Miyamoto's
// and is not bound by the Go HTTP client's CPU (~40 µs a request here,
// on the same 2 cores as the gateway).
type abBench struct {
	path string // the ab binary
	form string // the file of the form ab posts
}

// errNoAB is why the ab rows are missing.
var errNoAB = errors.New("ab (ApacheBench) not found in PATH: scripts/install-bench-deps.sh installs it (Debian package apache2-utils)")

// newABBench finds ab and writes the form it posts, in dir: Miyamoto's
// task, due in an hour, calling hook with one param.
func newABBench(dir, hook string) (*abBench, error) {
	path, err := exec.LookPath("ab")
	if err != nil {
		return nil, errNoAB
	}
	form := url.Values{"task.url": {hook}, "task.countdown": {"3600"}, "i": {"1"}}
	file := filepath.Join(dir, "ab-form")
	if err := os.WriteFile(file, []byte(form.Encode()), 0o600); err != nil {
		return nil, err
	}
	return &abBench{path: path, form: file}, nil
}

// abResult is what ab printed of one run.
type abResult struct {
	rate                        float64 // "Requests per second"
	complete, failed, non2xx    int
	keepAlive                   int
	completeSeen, keepAliveSeen bool
	cpu                         time.Duration // ab's own user+system CPU
	output                      string
}

var (
	abRate      = regexp.MustCompile(`(?m)^Requests per second:\s+([0-9.]+)`)
	abComplete  = regexp.MustCompile(`(?m)^Complete requests:\s+(\d+)`)
	abFailed    = regexp.MustCompile(`(?m)^Failed requests:\s+(\d+)`)
	abNon2xx    = regexp.MustCompile(`(?m)^Non-2xx responses:\s+(\d+)`)
	abKeepAlive = regexp.MustCompile(`(?m)^Keep-Alive requests:\s+(\d+)`)
)

// run posts the form n times to target from clients keep-alive
// connections, bounded by 5 minutes. A run with a failed or non-2xx
// request, or fewer than n keep-alive requests, is an error, not a
// figure.
func (a *abBench) run(ctx context.Context, target string, clients, n int) (abResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.path, "-q", "-k", "-n", strconv.Itoa(n), "-c", strconv.Itoa(clients), "-s", "60",
		"-p", a.form, "-T", "application/x-www-form-urlencoded", target)
	out, err := cmd.CombinedOutput()
	r := parseAB(string(out))
	if cmd.ProcessState != nil {
		r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return r, fmt.Errorf("ab %s: %w: %.500s", target, err, out)
	}
	return r, r.check(target, n)
}

func parseAB(out string) abResult {
	r := abResult{output: out}
	num := func(re *regexp.Regexp) (int, bool) {
		m := re.FindStringSubmatch(out)
		if m == nil {
			return 0, false
		}
		v, err := strconv.Atoi(m[1])
		return v, err == nil
	}
	if m := abRate.FindStringSubmatch(out); m != nil {
		r.rate, _ = strconv.ParseFloat(m[1], 64)
	}
	r.complete, r.completeSeen = num(abComplete)
	r.failed, _ = num(abFailed)
	r.non2xx, _ = num(abNon2xx) // printed only when some were
	r.keepAlive, r.keepAliveSeen = num(abKeepAlive)
	return r
}

func (r abResult) check(target string, n int) error {
	switch {
	case !r.completeSeen || r.rate == 0:
		return fmt.Errorf("ab %s: no figures in its output: %.500s", target, r.output)
	case r.complete != n || r.failed != 0 || r.non2xx != 0:
		return fmt.Errorf("ab %s: %d of %d requests complete, %d failed, %d non-2xx: not a figure", target, r.complete, n, r.failed, r.non2xx)
	case !r.keepAliveSeen || r.keepAlive != n:
		return fmt.Errorf("ab %s: %d of %d requests kept the connection alive (ab -k)", target, r.keepAlive, n)
	}
	return nil
}

// abRound is one ab run of n enqueues to the server at target (process
// pid): the rate, and the CPU µs per request of the server and of ab.
func (a *abBench) round(ctx context.Context, target string, clients, n, pid int) (cpuRound, error) {
	srv0 := procCPU(pid)
	r, err := a.run(ctx, target, clients, n)
	if err != nil {
		return cpuRound{}, err
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	return cpuRound{rate: r.rate, server: per(procCPU(pid) - srv0), client: per(r.cpu)}, nil
}

// scheduledTasks is the sum of the queues' scheduled tasks, by GET
// /queues: what an ab round must raise by its requests.
func (b *bencher) scheduledTasks(base string) (int, error) {
	req, err := http.NewRequestWithContext(b.ctx, "GET", base+"queues", nil)
	if err != nil {
		return 0, err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return 0, fmt.Errorf("GET /queues: %d %.200s (%v)", resp.StatusCode, data, err)
	}
	var qs struct {
		Queues []struct {
			Scheduled int `json:"scheduled"`
		} `json:"queues"`
	}
	if err := json.Unmarshal(data, &qs); err != nil {
		return 0, fmt.Errorf("GET /queues: %w", err)
	}
	n := 0
	for _, q := range qs.Queues {
		n += q.Scheduled
	}
	return n, nil
}

// abEnqueueRound is an ab round through the gateway at base, checked:
// the scheduled tasks must have grown by exactly n.
func (b *bencher) abEnqueueRound(a *abBench, base string, clients, n, pid int) (cpuRound, error) {
	before, err := b.scheduledTasks(base)
	if err != nil {
		return cpuRound{}, err
	}
	r, err := a.round(b.ctx, base+"queue", clients, n, pid)
	if err != nil {
		return r, err
	}
	after, err := b.scheduledTasks(base)
	if err == nil && after-before != n {
		err = fmt.Errorf("ab: %d enqueues answered 200, but the scheduled tasks went from %d to %d", n, before, after)
	}
	return r, err
}

func procCPU(pid int) time.Duration { return benchenv.ProcCPU([]int{pid})[0] }
