// Command gatewaybench measures the HTTP gateway: a real `glimpse-cluster
// http` process in front of -workers `glimpse-cluster worker -n SLOTS`
// processes on a fresh gearmand, driven by -clients concurrent keep-alive
// HTTP clients in this process:
//
//   - POST /v1/functions/examples.square/call, one item a request;
//   - POST /v1/functions/examples.square/map of -map-items items a request;
//   - one map of -big-items items, as a JSON array and as NDJSON;
//   - POST /queue (Miyamoto's form) of -enqueues tasks due in an hour,
//     rounds in turn with the same requests to a no-op HTTP server process
//     (this program, re-executed): the ceiling HTTP alone allows; then the
//     same from ApacheBench (ab -k -c CLIENTS, as Miyamoto's PERFORMANCE
//     file measured), to both; with -postgres URL, again into a
//     PostgreSQL task store;
//   - POST /queue of -deliveries tasks due now, each calling a receiver
//     in this process: the rate is to the last call received.
//
// Every answer is checked (status and values). Each figure is the median
// of -rounds measurements.
//
//	gatewaybench [-clients 10] [-calls 5000] [-maps 500] [-map-items 100] [-big-items 100000] [-enqueues 20000] [-deliveries 5000] [-rounds 3] [-workers 2] [-slots 4] [-tasks-only] [-postgres URL] [-json FILE]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchenv"
	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/examples/funcs"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("gatewaybench: ")
	if os.Getenv(noopEnv) != "" {
		serveNoop()
		return
	}
	res := benchjson.Gateway{}
	flag.IntVar(&res.Clients, "clients", 10, "concurrent keep-alive HTTP clients")
	flag.IntVar(&res.Calls, "calls", 5000, "POST /call requests per measurement")
	flag.IntVar(&res.Maps, "maps", 500, "POST /map requests per measurement")
	flag.IntVar(&res.MapItems, "map-items", 100, "items of each of those maps")
	flag.IntVar(&res.BigItems, "big-items", 100000, "items of the large map")
	flag.IntVar(&res.Enqueues, "enqueues", 20000, "POST /queue requests per enqueue measurement")
	flag.IntVar(&res.Deliveries, "deliveries", 5000, "webhook tasks due now per delivery measurement")
	flag.IntVar(&res.Rounds, "rounds", 3, "measurements of each kind (the median is reported)")
	flag.IntVar(&res.Workers, "workers", 2, "worker processes")
	flag.IntVar(&res.Slots, "slots", 4, "slots of each worker process")
	bin := flag.String("bin", "bin/glimpse-cluster", "the glimpse-cluster binary (make builds it)")
	jsonPath := flag.String("json", "", "also write the figures as JSON to this `FILE`")
	flag.BoolVar(&tasksOnly, "tasks-only", false, "measure the task routes only (not /call and /map)")
	flag.StringVar(&postgresURL, "postgres", "", "also measure the enqueues into a PostgreSQL task store at this `URL`")
	flag.Parse()
	if res.Clients < 1 || res.Calls < 1 || res.Maps < 1 || res.MapItems < 1 || res.BigItems < 1 || res.Enqueues < 1 || res.Deliveries < 1 || res.Rounds < 1 || res.Workers < 1 || res.Slots < 1 {
		log.Fatal("want every count >= 1")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, &res); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("glimpse-cluster http, %d workers x %d slots, %d keep-alive clients, median of %d rounds\n", res.Workers, res.Slots, res.Clients, res.Rounds)
	fmt.Printf("POST .../call, one item                  %9.0f requests/s\n", res.CallsPerS)
	fmt.Printf("POST .../map, %d items each             %9.0f requests/s  %9.0f items/s\n", res.MapItems, res.MapsPerS, res.MapItemsPerS)
	fmt.Printf("POST .../map, %d items, JSON array    %9.0f items/s\n", res.BigItems, res.BigItemsPerS)
	fmt.Printf("POST .../map, %d items, NDJSON        %9.0f items/s\n", res.BigItems, res.NDJSONItemsPerS)
	fmt.Printf("POST /queue, a task due in an hour       %9.0f enqueues/s  CPU µs/enqueue: gateway %.1f, clients %.1f\n", res.EnqueuesPerS, res.EnqueueServerCPUus, res.EnqueueClientCPUus)
	fmt.Printf("the same to a no-op HTTP server          %9.0f requests/s  CPU µs/request: server %.1f, clients %.1f\n", res.CeilingPerS, res.CeilingServerCPUus, res.CeilingClientCPUus)
	if res.ABError != "" {
		fmt.Printf("ab: MISSING: %s\n", res.ABError)
	} else {
		fmt.Printf("POST /queue from ab -k -c %d (Miyamoto's) %9.0f enqueues/s  CPU µs/enqueue: gateway %.1f, ab %.1f\n", res.Clients, res.ABEnqueuesPerS, res.ABEnqueueServerCPUus, res.ABEnqueueClientCPUus)
		fmt.Printf("ab to the no-op HTTP server              %9.0f requests/s  CPU µs/request: server %.1f, ab %.1f\n", res.ABCeilingPerS, res.ABCeilingServerCPUus, res.ABCeilingClientCPUus)
	}
	if res.PostgresEnqueuesPerS > 0 {
		fmt.Printf("POST /queue into PostgreSQL              %9.0f enqueues/s  CPU µs/enqueue: gateway %.1f\n", res.PostgresEnqueuesPerS, res.PostgresEnqueueServerCPU)
	}
	fmt.Printf("POST /queue, due now, to the receiver    %9.0f webhook deliveries/s\n", res.DeliveriesPerS)
	if *jsonPath != "" {
		if err := benchjson.Write(*jsonPath, res); err != nil {
			log.Fatal(err)
		}
	}
}

func run(ctx context.Context, bin string, res *benchjson.Gateway) error {
	c, err := benchenv.StartCluster(ctx, benchenv.ClusterSpec{Name: "gatewaybench", Bin: bin, Workers: res.Workers, Slots: res.Slots,
		WriteConfig: func(dir, addr string) (string, error) {
			path, err := benchenv.WriteConfig(dir, addr)
			if err == nil {
				err = addTaskStore(path, dir)
			}
			return path, err
		}})
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := c.Pool(ctx, "", funcs.Square.Name())
	if err != nil {
		return err
	}
	p.Close()
	gw, base, err := startGateway(ctx, bin, c.Config)
	if err != nil {
		return err
	}
	defer benchenv.Terminate([]*exec.Cmd{gw})
	if !tasksOnly {
		if err := measure(ctx, base, res); err != nil {
			return err
		}
	}
	if err := measureTasks(ctx, gw, base, res); err != nil {
		return err
	}
	if postgresURL == "" {
		return nil
	}
	return measurePostgres(ctx, bin, c.Config, res)
}

// Flags of the task measurements.
var (
	tasksOnly   bool
	postgresURL string
)

// startGateway runs `glimpse-cluster -c CONFIG http -listen 127.0.0.1:0`
// and reads the URL it prints.
func startGateway(ctx context.Context, bin, cfgPath string) (*exec.Cmd, string, error) {
	return startServer(exec.Command(bin, "-c", cfgPath, "http", "-listen", "127.0.0.1:0"))
}

// startServer starts c, a server that prints its URL on its first line.
func startServer(c *exec.Cmd) (*exec.Cmd, string, error) {
	c.Stderr = os.Stderr
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := c.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := c.Start(); err != nil {
		return nil, "", err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	m := regexp.MustCompile(`http://[0-9.:]+/`).FindString(line)
	if err != nil || m == "" {
		benchenv.Terminate([]*exec.Cmd{c})
		return nil, "", fmt.Errorf("%s printed %q (%v), no URL", c.Path, line, err)
	}
	go io.Copy(io.Discard, out)
	return c, m, nil
}

func measure(ctx context.Context, base string, res *benchjson.Gateway) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: res.Clients, MaxConnsPerHost: res.Clients}, Timeout: 5 * time.Minute}
	defer client.CloseIdleConnections()
	b := &bencher{ctx: ctx, client: client, base: base + "v1/functions/" + funcs.Square.Name()}
	var err error
	if res.CallsPerS, err = median(res.Rounds, res.Calls, func() error { return b.concurrently(res.Clients, res.Calls, b.call) }); err != nil {
		return err
	}
	mapOne := func(i int) error { return b.mapArray(i, res.MapItems) }
	if res.MapsPerS, err = median(res.Rounds, res.Maps, func() error { return b.concurrently(res.Clients, res.Maps, mapOne) }); err != nil {
		return err
	}
	res.MapItemsPerS = res.MapsPerS * float64(res.MapItems)
	if res.BigItemsPerS, err = median(res.Rounds, res.BigItems, func() error { return b.mapArray(0, res.BigItems) }); err != nil {
		return err
	}
	res.NDJSONItemsPerS, err = median(res.Rounds, res.BigItems, func() error { return b.mapNDJSON(res.BigItems) })
	return err
}

type bencher struct {
	ctx    context.Context
	client *http.Client
	base   string
}

// concurrently runs fn(0..n-1) from k goroutines.
func (b *bencher) concurrently(k, n int, fn func(int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, k)
	for range k {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				if err := fn(int(i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (b *bencher) post(path, ctype string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(b.ctx, "POST", b.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("POST %s: %d %.200s", path, resp.StatusCode, data)
	}
	return data, err
}

func (b *bencher) call(i int) error {
	out, err := b.post("/call", "application/json", []byte(strconv.Itoa(i)))
	if err == nil && string(bytes.TrimSpace(out)) != strconv.Itoa(i*i) {
		err = fmt.Errorf("call %d answered %q", i, out)
	}
	return err
}

func (b *bencher) mapArray(first, n int) error {
	items := make([]int64, n)
	for i := range items {
		items[i] = int64(first + i)
	}
	body, _ := json.Marshal(items)
	out, err := b.post("/map", "application/json", body)
	if err != nil {
		return err
	}
	var got []int64
	if err := json.Unmarshal(out, &got); err != nil || len(got) != n || got[n-1] != items[n-1]*items[n-1] {
		return fmt.Errorf("map of %d items: %d results, %v", n, len(got), err)
	}
	return nil
}

func (b *bencher) mapNDJSON(n int) error {
	var body bytes.Buffer
	for i := range n {
		body.WriteString(strconv.Itoa(i))
		body.WriteByte('\n')
	}
	out, err := b.post("/map", "application/x-ndjson", body.Bytes())
	if err != nil {
		return err
	}
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if len(lines) != n || string(lines[n-1]) != strconv.Itoa((n-1)*(n-1)) {
		return fmt.Errorf("NDJSON map of %d items: %d lines", n, len(lines))
	}
	return nil
}

func median(rounds, units int, fn func() error) (float64, error) {
	var rates []float64
	for range rounds {
		start := time.Now()
		if err := fn(); err != nil {
			return 0, err
		}
		rates = append(rates, float64(units)/time.Since(start).Seconds())
	}
	slices.Sort(rates)
	return rates[len(rates)/2], nil
}
