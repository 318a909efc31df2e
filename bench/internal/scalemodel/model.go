// Package scalemodel is the capacity model of docs/SCALING.md: from the
// measured CPU seconds one job costs the client, gearmand and the worker
// (and the bytes it moves), it gives the job rate a set of machines can
// sustain, which resource limits it, and what a target load needs.
//
// A job is one chunk: a map of I items in chunks of C items is I/C jobs.
// Everything here is per job; Jobs turns an item rate into a job rate.
package scalemodel

import (
	"errors"
	"fmt"
	"math"
)

// Costs are what one job costs, as measured by bench/scaling.
type Costs struct {
	// Client, Server and Worker are CPU seconds per job of the client
	// process, of one gearmand (all its threads) and of the worker
	// process, the worker's without the user function's own work.
	Client, Server, Worker float64
	// ServerThread is the CPU seconds per job of gearmand's busiest
	// thread: one thread cannot run faster than one core, so a gearmand
	// tops out at 1/ServerThread jobs/s however many cores it has.
	ServerThread float64
	// Bytes is what one job moves through its job server's network
	// interface, in and out (client<->gearmand and gearmand<->worker).
	Bytes float64
}

// Resources are the machines. A zero field means "not a limit".
type Resources struct {
	ClientCores float64 // cores the client processes may use
	WorkerCores float64 // cores of all worker hosts together
	Servers     int     // job servers; each chunk goes to one of them
	ServerCores float64 // cores of each job server host
	// Bandwidth is bytes/s through each job server host's interface,
	// in and out together.
	Bandwidth float64
	// SharedCores, when > 0, is one CPU budget that client, job servers
	// and workers all draw from (for example namespaces on one machine);
	// the per-role core counts above still cap each role.
	SharedCores float64
}

// Limit is the job rate that one resource allows.
type Limit struct {
	Resource string  // "client CPU", "gearmand CPU", ...
	JobsPerS float64 // +Inf when the resource is not a limit
}

// ErrBadInput is wrapped by the errors of Throughput and Size.
var ErrBadInput = errors.New("scalemodel: bad input")

// Throughput returns the sustainable job rate (the smallest limit) and
// every limit, in a fixed order: client CPU, gearmand CPU, gearmand's
// busiest thread, worker CPU, network, shared CPU.
func Throughput(c Costs, r Resources) (Limit, []Limit, error) {
	if err := c.check(); err != nil {
		return Limit{}, nil, err
	}
	if r.Servers < 1 {
		return Limit{}, nil, fmt.Errorf("%w: %d job servers, want at least 1", ErrBadInput, r.Servers)
	}
	n := float64(r.Servers)
	limits := []Limit{
		{"client CPU", rate(r.ClientCores, c.Client)},
		{"gearmand CPU", rate(r.ServerCores*n, c.Server)},
		{"gearmand busiest thread", rate(n, c.ServerThread)},
		{"worker CPU", rate(r.WorkerCores, c.Worker)},
		{"network", rate(r.Bandwidth*n, c.Bytes)},
		{"shared CPU", rate(r.SharedCores, c.Client+c.Server+c.Worker)},
	}
	best := Limit{Resource: "none", JobsPerS: math.Inf(1)}
	for _, l := range limits {
		if l.JobsPerS < best.JobsPerS {
			best = l
		}
	}
	return best, limits, nil
}

// rate is capacity/cost, +Inf when capacity is 0 (no limit) or the cost is.
func rate(capacity, cost float64) float64 {
	if capacity <= 0 || cost <= 0 {
		return math.Inf(1)
	}
	return capacity / cost
}

func (c Costs) check() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"Client", c.Client}, {"Server", c.Server}, {"ServerThread", c.ServerThread}, {"Worker", c.Worker}, {"Bytes", c.Bytes}} {
		if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%w: cost %s = %v, want a finite number >= 0", ErrBadInput, f.name, f.v)
		}
	}
	if c.ServerThread > c.Server {
		return fmt.Errorf("%w: busiest thread's cost %v is more than gearmand's %v", ErrBadInput, c.ServerThread, c.Server)
	}
	return nil
}

// Jobs is the job rate of itemsPerS items/s in chunks of chunk items.
func Jobs(itemsPerS float64, chunk int) (float64, error) {
	if chunk < 1 || itemsPerS < 0 {
		return 0, fmt.Errorf("%w: %v items/s in chunks of %d", ErrBadInput, itemsPerS, chunk)
	}
	return itemsPerS / float64(chunk), nil
}

// ServerHost is one job server's machine.
type ServerHost struct {
	Cores     float64 // cores gearmand may use
	Bandwidth float64 // bytes/s through its interface, in and out; 0: no limit
}

// Plan is what a load needs.
type Plan struct {
	ClientCores float64 // CPU of the client processes
	WorkerCores float64 // CPU of the workers: overhead plus the items' own work
	ServerCores float64 // CPU of all job servers together
	// Servers is the fewest job servers that carry the load: enough for
	// their CPU, their busiest-thread ceiling and their bandwidth, each
	// run at most at the utilisation given to Size.
	Servers int
	// ServerLimit names what limits one job server: "gearmand CPU",
	// "gearmand busiest thread" or "network".
	ServerLimit string
}

// Size returns what jobsPerS jobs/s need, when each job also runs
// itemCPU seconds of the user's function in the worker, with job servers
// on host machines each planned to run at most at util (0 < util <= 1)
// of their ceiling.
func Size(c Costs, jobsPerS, itemCPU float64, host ServerHost, util float64) (Plan, error) {
	if err := c.check(); err != nil {
		return Plan{}, err
	}
	if jobsPerS < 0 || itemCPU < 0 || host.Cores <= 0 || host.Bandwidth < 0 || util <= 0 || util > 1 {
		return Plan{}, fmt.Errorf("%w: %v jobs/s, %v s of work per job, job server host %+v, utilisation %v",
			ErrBadInput, jobsPerS, itemCPU, host, util)
	}
	p := Plan{
		ClientCores: jobsPerS * c.Client,
		WorkerCores: jobsPerS * (c.Worker + itemCPU),
		ServerCores: jobsPerS * c.Server,
	}
	_, limits, err := Throughput(c, Resources{Servers: 1, ServerCores: host.Cores, Bandwidth: host.Bandwidth})
	if err != nil {
		return Plan{}, err
	}
	perServer := Limit{JobsPerS: math.Inf(1)}
	for _, l := range limits {
		if l.Resource != "client CPU" && l.Resource != "worker CPU" && l.JobsPerS < perServer.JobsPerS {
			perServer = l
		}
	}
	p.Servers, p.ServerLimit = 1, perServer.Resource
	if jobsPerS > 0 && !math.IsInf(perServer.JobsPerS, 1) {
		p.Servers = max(1, int(math.Ceil(jobsPerS/(perServer.JobsPerS*util)-1e-9)))
	}
	return p, nil
}

// Between estimates the costs of a job of n items from measured jobs of
// na and nb items (na < nb) of the same kind: each cost is a fixed part
// plus a part per item, so it is linear in the items (and never below 0).
func Between(a Costs, na int, b Costs, nb int, n int) (Costs, error) {
	if na < 1 || nb <= na || n < 1 {
		return Costs{}, fmt.Errorf("%w: jobs of %d and %d items for %d", ErrBadInput, na, nb, n)
	}
	f := float64(n-na) / float64(nb-na)
	lerp := func(x, y float64) float64 { return math.Max(0, x+(y-x)*f) }
	c := Costs{Client: lerp(a.Client, b.Client), Server: lerp(a.Server, b.Server),
		ServerThread: lerp(a.ServerThread, b.ServerThread), Worker: lerp(a.Worker, b.Worker), Bytes: lerp(a.Bytes, b.Bytes)}
	c.ServerThread = math.Min(c.ServerThread, c.Server)
	return c, c.check()
}
