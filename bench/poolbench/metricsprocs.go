package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// cpuSample is CPU time used so far by the process set of a local
// cluster: this process (client, worker, broker, fanout worker) and its
// gearmand.
type cpuSample struct{ self, gearmand time.Duration }

func (a cpuSample) minus(b cpuSample) cpuSample {
	return cpuSample{a.self - b.self, a.gearmand - b.gearmand}
}

func (a cpuSample) plus(b cpuSample) cpuSample {
	return cpuSample{a.self + b.self, a.gearmand + b.gearmand}
}

func (a cpuSample) nsPerItem(items int) float64 {
	return float64((a.self + a.gearmand).Nanoseconds()) / float64(items)
}

// sampleCPU reads this process's CPU time (getrusage) and gearmand's
// (the sum of its threads' /proc schedstat, in nanoseconds: its
// /proc/PID/stat counts 10ms ticks, too coarse for a round).
func sampleCPU(gearmandPid int) (cpuSample, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuSample{}, fmt.Errorf("getrusage: %w", err)
	}
	gd, err := threadsCPU(gearmandPid)
	return cpuSample{self: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), gearmand: gd}, err
}

// threadsCPU is the CPU time of process pid's threads, from the first
// field of each /proc/PID/task/TID/schedstat.
func threadsCPU(pid int) (time.Duration, error) {
	paths, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(paths) == 0 {
		return 0, fmt.Errorf("CPU time of process %d: no /proc/%d/task/*/schedstat", pid, pid)
	}
	var sum time.Duration
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // a thread that just ended
		}
		ns, err := strconv.ParseInt(string(bytes.Fields(data)[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", p, err)
		}
		sum += time.Duration(ns)
	}
	return sum, nil
}

// errNoGearmand is a job server address no gearmand process listens on.
var errNoGearmand = errors.New("no gearmand process with that --port")

// findGearmand returns the pid of the gearmand listening on addr's port
// (internal/gearmand starts it with --port=PORT).
func findGearmand(addr string) (int, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("job server %q: %w", addr, err)
	}
	want := []byte("--port=" + port)
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, path := range cmdlines {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		args := bytes.Split(data, []byte{0})
		if filepath.Base(string(args[0])) == "gearmand" && slices.ContainsFunc(args, func(a []byte) bool { return bytes.Equal(a, want) }) {
			return strconv.Atoi(filepath.Base(filepath.Dir(path)))
		}
	}
	return 0, fmt.Errorf("job server %q: %w", addr, errNoGearmand)
}

// scraper scrapes a metrics endpoint at a steady rate, as Prometheus
// does: the first scrape half a period after it starts, then one every
// period (so a round of T seconds sees about T/period scrapes).
type scraper struct {
	done          chan struct{}
	wg            sync.WaitGroup
	scrapes, errs int // read after wg.Wait
}

func startScraper(url string, every time.Duration) *scraper {
	s := &scraper{done: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second}
	s.wg.Go(func() {
		defer client.CloseIdleConnections()
		next := time.Now().Add(every / 2)
		timer := time.NewTimer(time.Until(next))
		defer timer.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-timer.C:
			}
			if scrape(client, url) == nil {
				s.scrapes++
			} else {
				s.errs++
			}
			next = next.Add(every)
			timer.Reset(time.Until(next))
		}
	})
	return s
}

// stop stops the scraper, waiting for a scrape under way, and returns
// the scrapes that answered and those that failed.
func (s *scraper) stop() (scrapes, errs int) {
	close(s.done)
	s.wg.Wait()
	return s.scrapes, s.errs
}

// scrape reads url's whole answer (gzipped, as Prometheus asks for it).
func scrape(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	return nil
}

// bootstrapResamples is how many resamples medianInterval draws.
const bootstrapResamples = 4000

// medianInterval returns the median of xs and its 95% bootstrap interval:
// the 2.5th and 97.5th percentiles of the medians of xs resampled with
// replacement. The seed is fixed, so a report's figures can be rederived.
func medianInterval(xs []float64) (median, low, high float64) {
	rng := rand.New(rand.NewPCG(1, 2))
	medians := make([]float64, bootstrapResamples)
	sample := make([]float64, len(xs))
	for i := range medians {
		for j := range sample {
			sample[j] = xs[rng.IntN(len(xs))]
		}
		medians[i] = midValue(sample)
	}
	slices.Sort(medians)
	return midValue(xs), medians[bootstrapResamples*25/1000], medians[bootstrapResamples*975/1000-1]
}

// midValue is the median of xs: the mean of the middle two for an even
// count.
func midValue(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
