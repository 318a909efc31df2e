package main

import (
	"fmt"
	"strings"

	"github.com/glimpse-go/glimpse/bench/internal/scalemodel"
)

func printResults(title string, rs []Result) {
	fmt.Printf("%s\n%-10s %7s %3s %6s %9s %9s %9s %9s %9s %11s %11s %6s %6s\n", title,
		"case", "servers", "-t", "jobs", "jobs/s", "client", "gearmand", "g.thread", "worker", "bytes/job", "split", "ours", "machine")
	for _, r := range rs {
		split := make([]string, len(r.ServerShare))
		for i, s := range r.ServerShare {
			split[i] = fmt.Sprintf("%.0f", 100*s)
		}
		fmt.Printf("%-10s %7d %3d %6d %9.0f %9.1f %9.1f %9.1f %9.1f %11.0f %11s %6.2f %6.2f\n",
			r.Case, r.Servers, r.GearmandThreads, r.Jobs, r.JobsPerS, r.ClientUs, r.GearmandUs, r.ThreadUs, r.WorkerUs,
			r.BytesPerJob, strings.Join(split, "/"), r.OurCores, r.MachineCores)
	}
	fmt.Println("(client, gearmand, g.thread = gearmand's busiest threads, worker: CPU us per job; split: % of gearmand CPU per server;")
	fmt.Println(" ours: cores used by client+gearmand+workers over the run; machine: cores busy on the whole machine)")
	fmt.Println()
}

// costsOf turns a measured row into the model's per-job costs.
func costsOf(r Result) scalemodel.Costs {
	return scalemodel.Costs{Client: r.ClientUs / 1e6, Server: r.GearmandUs / 1e6, ServerThread: r.ThreadUs / 1e6,
		Worker: r.WorkerUs / 1e6, Bytes: r.BytesPerJob}
}

// pick returns the row of case c with servers and threads, if measured.
func pick(rs []Result, c string, servers, threads int) (Result, bool) {
	for _, r := range rs {
		if r.Case == c && r.Servers == servers && r.GearmandThreads == threads {
			return r, true
		}
	}
	return Result{}, false
}

// example is one line of the worked-example table.
type example struct {
	what      string
	costsCase string  // which measured row's costs
	itemsPerS float64 // the load
	chunk     int
	itemCPU   float64 // seconds of user work per item
}

var examples = []example{
	{"10k items/s of 1 ms CPU, chunks of 1", "1-item", 1e4, 1, 1e-3},
	{"10k items/s of 1 ms CPU, chunks of 100", "1000-item", 1e4, 100, 1e-3},
	{"100k one-item calls/s (trivial)", "1-item", 1e5, 1, 0},
	{"10M int64 items/s (trivial), chunks of 1000", "1000-item", 1e7, 1000, 0},
	{"1 GB/s of 1 MB items (identity)", "1MB-item", 1000, 1, 0},
}

// serverHost is the job server machine of the worked examples.
// 4 cores and 10 Gbit/s full duplex: 1.25 GB/s in plus 1.25 GB/s out.
var serverHost = scalemodel.ServerHost{Cores: 4, Bandwidth: 2.5e9}

// planUtil is how full the examples plan a job server.
const planUtil = 0.7

// printModel prints the worked examples from the 1-server rows of the
// largest gearmand -t measured.
func printModel(rs []Result) {
	threads := 0
	for _, r := range rs {
		if r.Servers == 1 {
			threads = max(threads, r.GearmandThreads)
		}
	}
	if threads == 0 {
		return // no 1-server rows measured
	}
	fmt.Printf("model: what a load needs, from the 1-server, -t %d costs above; job server hosts of %.0f cores and %.3g B/s in+out, planned at %.0f%%\n",
		threads, serverHost.Cores, serverHost.Bandwidth, 100*planUtil)
	fmt.Printf("%-44s %9s %8s %8s %8s %7s  %s\n", "load", "jobs/s", "client", "workers", "gearmand", "servers", "a server is held by")
	for _, e := range examples {
		r, ok := pick(rs, e.costsCase, 1, threads)
		if !ok {
			continue
		}
		jobs, err := scalemodel.Jobs(e.itemsPerS, e.chunk)
		if err != nil {
			panic(err) // the table above is fixed
		}
		c := costsOf(r)
		if e.chunk != r.ItemsPerJob {
			c = perChunk(rs, threads, e.chunk)
		}
		p, err := scalemodel.Size(c, jobs, e.itemCPU*float64(e.chunk), serverHost, planUtil)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-44s %9.0f %8.2f %8.2f %8.2f %7d  %s\n", e.what, jobs, p.ClientCores, p.WorkerCores, p.ServerCores, p.Servers, p.ServerLimit)
	}
	fmt.Println("(client, workers, gearmand: cores needed; servers: job servers needed)")
	fmt.Println()
}

// perChunk estimates the costs of a job of chunk int64 items from the
// measured 1-item and 1,000-item jobs.
func perChunk(rs []Result, threads, chunk int) scalemodel.Costs {
	one, ok1 := pick(rs, "1-item", 1, threads)
	big, ok2 := pick(rs, "1000-item", 1, threads)
	if !ok1 || !ok2 {
		return scalemodel.Costs{}
	}
	c, err := scalemodel.Between(costsOf(one), one.ItemsPerJob, costsOf(big), big.ItemsPerJob, chunk)
	if err != nil {
		panic(err)
	}
	return c
}
