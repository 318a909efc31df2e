// Command largeitems measures large items: -maps identity round trips
// (examples.identity) of -items items of -size bytes each, through a
// gearmand and real `glimpse-cluster worker` processes, all in one fresh
// client process (this program, re-executed), so that its peak RSS is the
// client's alone:
//
//   - MB/s of the first map of the process and the median of the others
//     (megabytes of input, 10^6 bytes, over the map's wall time);
//
//   - the client's peak RSS (VmHWM) against its input plus output;
//
//   - each worker process's RSS (VmRSS) before and after the maps.
//
//   - CPU time (user+system) per map of the client, the workers (all
//     together) and gearmand.
//
//   - the same maps with the pool's direct path off (gearmand relays the
//     items, as before pool.WithDirectData), in a client process of its
//     own, after those with the direct path on (the default);
//
//   - with -floor (the default), the floor under those figures in the
//     same run (floor.go): the same items through bare gearman.Client and
//     Worker processes, and through a raw TCP relay process.
//
//     largeitems [-items 100] [-size 1048576] [-maps 5] [-chunksize 0] [-workers 2] [-slots 1] [-floor] [-json FILE] [-cpuprofile FILE]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchenv"
	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/pool"
)

// result is largeitems' output (-json).
type result = benchjson.Large

func main() {
	log.SetFlags(0)
	log.SetPrefix("largeitems: ")
	items := flag.Int("items", 100, "items of each map")
	size := flag.Int("size", 1<<20, "bytes of each item")
	maps := flag.Int("maps", 5, "maps in the client process (the first is reported apart)")
	chunksize := flag.Int("chunksize", 0, "pool.Chunksize (0: automatic)")
	workers := flag.Int("workers", 2, "worker processes")
	slots := flag.Int("slots", 1, "slots of each worker process")
	bin := flag.String("bin", "bin/glimpse-cluster", "the glimpse-cluster binary (make builds it)")
	jsonPath := flag.String("json", "", "also write the figures as JSON to this `FILE`")
	childAddr := flag.String("child-addr", "", "internal: run the maps against this job server and print the figures")
	cpuProfile := flag.String("cpuprofile", "", "write the client process's CPU profile to this `FILE`")
	floor := flag.Bool("floor", true, "also measure the floor: bare Gearman and raw TCP with the same items")
	serveMode := flag.String("serve", "", "internal: run as a floor helper (echo-worker, tcp-echo, relay)")
	serveArg := flag.String("serve-arg", "", "internal: the floor helper's job server or backend")
	directData := flag.Bool("direct", true, "internal: the client process's pool.WithDirectData")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *serveMode != "" {
		if err := serve(ctx, *serveMode, *serveArg, *slots); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *items < 1 || *size < 1 || *maps < 2 || *workers < 1 || *slots < 1 {
		log.Fatal("want -items, -size, -workers, -slots >= 1 and -maps >= 2")
	}
	res := result{Items: *items, ItemBytes: *size, Chunksize: *chunksize, Workers: *workers, Slots: *slots}
	if *childAddr != "" {
		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				log.Fatal(err)
			}
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
		if err := child(ctx, *childAddr, *maps, *directData, &res); err != nil {
			log.Fatal(err)
		}
		json.NewEncoder(os.Stdout).Encode(res)
		return
	}
	if err := run(ctx, *bin, *maps, &res, *cpuProfile, *floor); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("identity round trip of %d x %d bytes, %d worker processes x %d slots, chunksize %d (0: auto, used %d items)\n",
		res.Items, res.ItemBytes, res.Workers, res.Slots, res.Chunksize, res.ChunkItems)
	fmt.Printf("first map            %8.0f MB/s\n", res.FirstMBps)
	fmt.Printf("later maps (median)  %8.0f MB/s   all: %.0f\n", res.SteadyMBps, res.AllMBps)
	fmt.Printf("CPU ms per map       client %.0f, workers %.0f, gearmand %.0f\n", res.ClientCPUms, res.WorkersCPUms, res.GearmandCPUms)
	fmt.Printf("client peak RSS      %8.1f MiB = %.2fx input+output (%.1f MiB)\n",
		float64(res.PeakRSSKiB)/1024, res.RSSRatio, float64(res.InOutKiB)/1024)
	fmt.Printf("worker RSS before    %v KiB\nworker RSS after     %v KiB\n", res.WorkerRSSBefKiB, res.WorkerRSSKiB)
	if f := res.DirectOff; f != nil {
		fmt.Printf("direct path off: first %.0f MB/s, later %.0f MB/s (all: %.0f); CPU ms per map: client %.0f, workers %.0f, gearmand %.0f\n",
			f.FirstMBps, f.SteadyMBps, f.AllMBps, f.ClientCPUms, f.WorkersCPUms, f.ServerCPUms)
	}
	for _, f := range res.Floor {
		fmt.Printf("floor: %s\n  first %.0f MB/s, later %.0f MB/s (all: %.0f); CPU ms per map: client %.0f, workers %.0f, %s %.0f\n",
			f.Name, f.FirstMBps, f.SteadyMBps, f.AllMBps, f.ClientCPUms, f.WorkersCPUms, f.Server, f.ServerCPUms)
	}
	if *jsonPath != "" {
		if err := benchjson.Write(*jsonPath, res); err != nil {
			log.Fatal(err)
		}
	}
}

// run starts gearmand and the workers, runs the client process, and
// reads the workers' RSS around it.
func run(ctx context.Context, bin string, maps int, res *result, profile string, floor bool) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	c, err := benchenv.StartCluster(ctx, benchenv.ClusterSpec{Name: "largeitems", Bin: bin, Workers: res.Workers, Slots: res.Slots})
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := c.Pool(ctx, "", funcs.Identity.Name())
	if err != nil {
		return err
	}
	defer p.Close()
	gd, ws := c.Gearmand, c.Workers
	res.WorkerRSSBefKiB = workerRSS(ws)
	pids := []int{gd.Pid()}
	for i := range ws.Len() {
		pids = append(pids, ws.Process(i).Pid)
	}
	cpu0 := procCPU(pids)
	before := res.WorkerRSSBefKiB
	if err := runChild(ctx, self, gd.Addr(), maps, profile, true, res); err != nil {
		return err
	}
	res.WorkerRSSBefKiB = before
	res.GearmandCPUms, res.WorkersCPUms = cpuPerMap(cpu0, procCPU(pids), maps)
	time.Sleep(time.Second)
	res.WorkerRSSKiB = workerRSS(ws)
	if err := measureDirectOff(ctx, self, gd.Addr(), pids, maps, res); err != nil {
		return err
	}
	if !floor {
		return nil
	}
	return measureFloor(ctx, self, gd.Addr(), gd.Pid(), maps, res)
}

// runChild runs the maps in a client process of their own, with the
// direct path on or off, and reads its figures into res.
func runChild(ctx context.Context, self, addr string, maps int, profile string, direct bool, res *result) error {
	cmd := exec.CommandContext(ctx, self, "-child-addr", addr, "-items", strconv.Itoa(res.Items),
		"-size", strconv.Itoa(res.ItemBytes), "-maps", strconv.Itoa(maps), "-chunksize", strconv.Itoa(res.Chunksize),
		"-cpuprofile", profile, "-direct="+strconv.FormatBool(direct))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	text, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("the client process: %w", err)
	}
	if err := json.Unmarshal(text, res); err != nil {
		return fmt.Errorf("the client process printed %q: %w", text, err)
	}
	return nil
}

// measureDirectOff runs the same maps with the direct path off: the
// items through gearmand, as before it.
func measureDirectOff(ctx context.Context, self, addr string, pids []int, maps int, res *result) error {
	off := result{Items: res.Items, ItemBytes: res.ItemBytes, Chunksize: res.Chunksize, Workers: res.Workers, Slots: res.Slots}
	cpu0 := procCPU(pids)
	if err := runChild(ctx, self, addr, maps, "", false, &off); err != nil {
		return err
	}
	f := &benchjson.LargeFloor{Name: "pool.Map, direct path off (gearmand relays the items)", Server: "gearmand",
		FirstMBps: off.FirstMBps, SteadyMBps: off.SteadyMBps, AllMBps: off.AllMBps, ClientCPUms: off.ClientCPUms}
	f.ServerCPUms, f.WorkersCPUms = cpuPerMap(cpu0, procCPU(pids), maps)
	res.DirectOff = f
	return nil
}

func workerRSS(ws *benchenv.Workers) []int64 {
	var out []int64
	for i := range ws.Len() {
		kib, err := benchenv.StatusKiB(fmt.Sprintf("/proc/%d/status", ws.Process(i).Pid), "VmRSS")
		if err != nil {
			log.Print(err)
		}
		out = append(out, kib)
	}
	return out
}

// child runs the maps and measures this process.
func child(ctx context.Context, addr string, maps int, direct bool, res *result) error {
	p, err := pool.New(config.Client{JobServers: []string{addr}}, pool.WithDirectData(direct))
	if err != nil {
		return err
	}
	defer p.Close()
	in := make([][]byte, res.Items)
	for i := range in {
		in[i] = bytes.Repeat([]byte{byte(i)}, res.ItemBytes)
	}
	chunkItems, lastDone := 0, 0
	opts := []pool.MapOption{pool.Progress(func(done, _ int) {
		chunkItems = max(chunkItems, done-lastDone)
		lastDone = done
	})}
	if res.Chunksize > 0 {
		opts = append(opts, pool.Chunksize(res.Chunksize))
	}
	mb := float64(res.Items) * float64(res.ItemBytes) / 1e6
	cpu0 := cpuTime()
	for m := range maps {
		lastDone = 0
		start := time.Now()
		out, err := pool.Map(ctx, p, funcs.Identity, in, opts...)
		if err != nil {
			return err
		}
		took := time.Since(start)
		for i := range out {
			if !bytes.Equal(out[i], in[i]) {
				return fmt.Errorf("map %d: item %d came back different", m, i)
			}
		}
		res.AllMBps = append(res.AllMBps, mb/took.Seconds())
		if m == 0 {
			res.ChunkItems = chunkItems
		}
		out = nil
	}
	res.ClientCPUms = float64((cpuTime()-cpu0)/time.Millisecond) / float64(maps)
	res.FirstMBps = res.AllMBps[0]
	later := slices.Clone(res.AllMBps[1:])
	slices.Sort(later)
	res.SteadyMBps = later[len(later)/2]
	res.PeakRSSKiB, err = benchenv.StatusKiB("/proc/self/status", "VmHWM")
	res.InOutKiB = int64(2 * res.Items * res.ItemBytes / 1024)
	res.RSSRatio = float64(res.PeakRSSKiB) / float64(res.InOutKiB)
	return err
}

// procCPU returns the user+system CPU time of each process.
func procCPU(pids []int) []time.Duration {
	out := make([]time.Duration, len(pids))
	for i, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			log.Print(err)
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

// cpuTime is this process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
