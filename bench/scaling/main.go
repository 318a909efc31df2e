// Command scaling measures what one job costs each party of a glimpse-go
// map, the inputs of the capacity model in docs/SCALING.md: CPU seconds
// per job of the client process (getrusage), of each gearmand (and of its
// busiest thread) and of the worker processes (/proc/PID/stat utime +
// stime), and the bytes gearmand reads and writes per job (/proc/PID/io),
// for three job sizes: one int64 per job, 1,000 int64 per job, and one
// 1 MB item per job; with 1 and 2 job servers and gearmand -t 1 and 2.
//
// With -netns (root and iproute2; skipped with a message otherwise) it
// then checks the model across the
// network-namespace hosts of scripts/netns-cluster.sh: two job servers
// (on hosts gearmand and broker), a worker process on each worker host
// and the client on host client; it predicts the throughput and
// gearmand's CPU share from the loopback costs and prints both.
//
//	scaling [-workers 2] [-slots 2] [-servers 1,2] [-threads 1,2] [-scale 1]
//	        [-netns] [-netns-threads 2] [-netns-mtu 0] [-json FILE]
//
// The program is also its own worker binary (glimpse-cluster with the
// example functions and scaling.echo) and, under -netns, its own client.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/glimpse-go/glimpse/bench/internal/benchenv"
	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/cli"
	"github.com/glimpse-go/glimpse/internal/netns"
)

// childEnv makes the program run as a worker ("worker": cli.Main) or as
// the client of a -netns run ("client").
const childEnv = "GLIMPSE_SCALING_CHILD"

// Output is the -json file.
type Output struct {
	Commit   string   `json:"commit"`
	CPUs     int      `json:"cpus"`
	Loopback []Result `json:"loopback"`
	Netns    *Check   `json:"netns,omitempty"`
}

type flags struct {
	workers, slots int
	servers        []int
	threads        []int
	scale          float64
	netns          bool
	netnsThreads   int
	netnsMTU       int
	jsonPath       string
	commit         string
}

func main() {
	switch os.Getenv(childEnv) {
	case "worker":
		cli.Main()
		return
	case "client":
		netnsClient()
		return
	}
	log.SetFlags(0)
	log.SetPrefix("scaling: ")
	f := parseFlags()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := Output{Commit: f.commit, CPUs: cpus()}
	fmt.Printf("commit %s, %d CPUs; %d worker processes x %d slots; CPU us per job\n\n", f.commit, out.CPUs, f.workers, f.slots)
	for _, t := range f.threads {
		for _, s := range f.servers {
			rs, err := runLoopback(ctx, f, s, t)
			if err != nil {
				log.Fatal(err)
			}
			out.Loopback = append(out.Loopback, rs...)
		}
	}
	printResults("loopback (one machine)", out.Loopback)
	printModel(out.Loopback)
	if f.netns {
		chk, err := runNetns(ctx, f, out.Loopback)
		switch {
		case errors.Is(err, netns.ErrUnsupported):
			fmt.Printf("network namespaces: skipped: %v\n", err)
		case err != nil:
			log.Fatal(err)
		}
		out.Netns = chk
	}
	if f.jsonPath != "" {
		if err := benchjson.Write(f.jsonPath, out); err != nil {
			log.Fatal(err)
		}
	}
}

func parseFlags() flags {
	var f flags
	flag.IntVar(&f.workers, "workers", 2, "worker processes (loopback runs)")
	flag.IntVar(&f.slots, "slots", 2, "slots per worker process")
	servers := flag.String("servers", "1,2", "job server counts to measure")
	threads := flag.String("threads", "1,2", "gearmand --threads values to measure")
	flag.Float64Var(&f.scale, "scale", 1, "multiply every case's job count by this")
	flag.BoolVar(&f.netns, "netns", false, "also check the model across network namespaces (root, iproute2)")
	flag.IntVar(&f.netnsThreads, "netns-threads", 2, "gearmand --threads in the -netns run")
	flag.IntVar(&f.netnsMTU, "netns-mtu", 0, "with -netns: set every link's MTU to this (0: leave the script's 1500)")
	flag.StringVar(&f.jsonPath, "json", "", "also write the figures as JSON to this `FILE`")
	flag.StringVar(&f.commit, "commit", "unknown", "the commit measured, for the output")
	flag.Parse()
	var err1, err2 error
	f.servers, err1 = benchenv.ParseList("-servers", *servers, 1)
	f.threads, err2 = benchenv.ParseList("-threads", *threads, 1)
	if err := firstErr(err1, err2); err != nil {
		log.Fatal(err)
	}
	if f.workers < 1 || f.slots < 1 || f.scale <= 0 || f.netnsThreads < 1 || f.netnsMTU < 0 {
		log.Fatalf("-workers %d, -slots %d, -scale %v, -netns-threads %d: want positive numbers", f.workers, f.slots, f.scale, f.netnsThreads)
	}
	return f
}

func (f flags) jobs(w workload) int { return max(1, int(float64(w.jobs)*f.scale)) }

// emit prints v as one line of JSON on stdout (the client child's answer).
func emit(v any) {
	if err := json.NewEncoder(os.Stdout).Encode(v); err != nil {
		log.Fatal(err)
	}
}
