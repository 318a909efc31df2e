package metrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/prometheus/client_golang/prometheus"
)

// jobServerTimeout bounds one scrape's questions to one job server.
const jobServerTimeout = 5 * time.Second

var (
	jobServerUp = prometheus.NewDesc("glimpse_jobserver_up",
		"1 if the job server answered the admin status question at this scrape, else 0.", []string{"server"}, nil)
	jobServerQueued = prometheus.NewDesc("glimpse_jobserver_queued_jobs",
		"Jobs the job server holds for the function, running ones included (admin status).", []string{"server", "function"}, nil)
	jobServerRunning = prometheus.NewDesc("glimpse_jobserver_running_jobs",
		"Jobs of the function assigned to a worker now (admin status).", []string{"server", "function"}, nil)
	jobServerWorkers = prometheus.NewDesc("glimpse_jobserver_workers",
		"Connected workers that registered the function (admin status).", []string{"server", "function"}, nil)
)

// JobServers is a collector that asks each job server's admin port for
// its status at every scrape: queue depth, running jobs and workers per
// function, and whether the server answered. A gateway registers it so
// that one scrape target shows gearmand too. It keeps one admin
// connection per server (redialled when it breaks); Close closes them.
type JobServers struct {
	addrs []string
	opts  []gearman.AdminOption

	mu     sync.Mutex
	admins map[string]*gearman.Admin
	closed bool
}

// NewJobServers returns a collector for the job servers at addrs
// ("host:port"), dialled with opts (gearman.WithTLS for TLS, say) on the
// first scrape.
func NewJobServers(addrs []string, opts ...gearman.AdminOption) *JobServers {
	return &JobServers{addrs: addrs, opts: opts, admins: map[string]*gearman.Admin{}}
}

// Describe sends the descriptions of the job servers' metrics.
func (j *JobServers) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{jobServerUp, jobServerQueued, jobServerRunning, jobServerWorkers} {
		ch <- d
	}
}

// Collect asks every job server for its status, at once, each for at most
// jobServerTimeout.
func (j *JobServers) Collect(ch chan<- prometheus.Metric) {
	var wg sync.WaitGroup
	for _, addr := range j.addrs {
		wg.Go(func() { j.collectOne(addr, ch) })
	}
	wg.Wait()
}

func (j *JobServers) collectOne(addr string, ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), jobServerTimeout)
	defer cancel()
	status, err := j.status(ctx, addr)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(jobServerUp, prometheus.GaugeValue, 0, addr)
		return
	}
	ch <- prometheus.MustNewConstMetric(jobServerUp, prometheus.GaugeValue, 1, addr)
	for _, s := range status {
		ch <- prometheus.MustNewConstMetric(jobServerQueued, prometheus.GaugeValue, float64(s.Queued), addr, s.Name)
		ch <- prometheus.MustNewConstMetric(jobServerRunning, prometheus.GaugeValue, float64(s.Running), addr, s.Name)
		ch <- prometheus.MustNewConstMetric(jobServerWorkers, prometheus.GaugeValue, float64(s.Workers), addr, s.Name)
	}
}

// errJobServersClosed is a scrape after Close.
var errJobServersClosed = errors.New("metrics: job servers collector closed")

func (j *JobServers) status(ctx context.Context, addr string) ([]gearman.FunctionStatus, error) {
	a, err := j.admin(ctx, addr)
	if err != nil {
		return nil, err
	}
	return a.Status(ctx)
}

// admin returns addr's admin connection, dialling it the first time.
func (j *JobServers) admin(ctx context.Context, addr string) (*gearman.Admin, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil, errJobServersClosed
	}
	if a := j.admins[addr]; a != nil {
		return a, nil
	}
	a, err := gearman.DialAdmin(ctx, addr, j.opts...)
	if err != nil {
		return nil, err
	}
	j.admins[addr] = a
	return a, nil
}

// Close closes the admin connections; later scrapes report every server
// down.
func (j *JobServers) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.closed = true
	var errs []error
	for _, a := range j.admins {
		errs = append(errs, a.Close())
	}
	clear(j.admins)
	return errors.Join(errs...)
}
