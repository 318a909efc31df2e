// Command webhookbench measures the built-in webhook function
// (webhook.Deliver, "glimpse.webhook") delivering signed form POSTs to a
// receiver on loopback (a Go net/http server in this process that reads
// each body and answers 200 "ok"):
//
//   - in process: webhook.Client.Deliver from -concurrency goroutines;
//
//   - through -workers real `glimpse-cluster worker -n SLOTS` processes
//     (signing with [http] webhook_secret_file): pool.Map of Deliver with
//     Chunksize(1), one Gearman job per delivery as a task is, and with
//     automatic chunks.
//
// Each figure is deliveries per second, the median of -rounds runs of
// -calls deliveries; the receiver's count is checked against the calls.
//
//	webhookbench [-calls 20000] [-rounds 3] [-concurrency 64] [-workers 2] [-slots 64] [-json FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchenv"
	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/pool"
	"github.com/glimpse-go/glimpse/webhook"
)

var secret = []byte("webhookbench-secret-0123456789ab")

func main() {
	log.SetFlags(0)
	log.SetPrefix("webhookbench: ")
	res := benchjson.Webhook{}
	flag.IntVar(&res.Calls, "calls", 20000, "deliveries per measurement")
	flag.IntVar(&res.Rounds, "rounds", 3, "measurements of each kind (the median is reported)")
	flag.IntVar(&res.Concurrency, "concurrency", 64, "goroutines of the in-process measurement")
	flag.IntVar(&res.Workers, "workers", 2, "worker processes")
	flag.IntVar(&res.Slots, "slots", 64, "slots of each worker process")
	bin := flag.String("bin", "bin/glimpse-cluster", "the glimpse-cluster binary (make builds it)")
	jsonPath := flag.String("json", "", "also write the figures as JSON to this `FILE`")
	flag.Parse()
	if res.Calls < 1 || res.Rounds < 1 || res.Concurrency < 1 || res.Workers < 1 || res.Slots < 1 {
		log.Fatal("want -calls, -rounds, -concurrency, -workers and -slots >= 1")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, &res); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("webhook.Deliver of %d signed form POSTs to a loopback receiver, median of %d rounds\n", res.Calls, res.Rounds)
	fmt.Printf("in process, %d goroutines                    %8.0f deliveries/s\n", res.Concurrency, res.InProcess)
	fmt.Printf("pool.Map Chunksize(1), %d workers x %d slots  %8.0f deliveries/s\n", res.Workers, res.Slots, res.Chunk1)
	fmt.Printf("pool.Map automatic chunks (up to %d per job)  %8.0f deliveries/s\n", res.ChunkItems, res.AutoChunks)
	fmt.Printf("received %d of %d calls\n", res.Received, res.Want)
	if *jsonPath != "" {
		if err := benchjson.Write(*jsonPath, res); err != nil {
			log.Fatal(err)
		}
	}
	if res.Received != res.Want {
		log.Fatalf("the receiver counted %d calls, want %d", res.Received, res.Want)
	}
}

func run(ctx context.Context, bin string, res *benchjson.Webhook) error {
	var received atomic.Int64
	url, stopReceiver, err := startReceiver(&received)
	if err != nil {
		return err
	}
	defer stopReceiver()
	reqs := make([]webhook.Request, res.Calls)
	for i := range reqs {
		reqs[i] = webhook.Request{URL: url, TaskID: "task-" + strconv.Itoa(i), Queue: "bench", Attempt: 1,
			Params: map[string][]string{"i": {strconv.Itoa(i)}, "name": {"webhookbench"}}}
	}
	c := webhook.NewClient(webhook.Config{Secret: secret})
	defer c.CloseIdleConnections()
	res.InProcess, err = median(res.Rounds, res.Calls, func() error { return inProcess(ctx, c, reqs, res.Concurrency) })
	if err != nil {
		return err
	}
	if err := throughWorkers(ctx, bin, reqs, res); err != nil {
		return err
	}
	res.Want = int64(3 * res.Rounds * res.Calls)
	res.Received = received.Load()
	return nil
}

// startReceiver serves 200 "ok" on loopback and counts the calls.
func startReceiver(count *atomic.Int64) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		count.Add(1)
		io.WriteString(w, "ok")
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String() + "/hook", func() { srv.Close() }, nil
}

// inProcess delivers every request from n goroutines.
func inProcess(ctx context.Context, c *webhook.Client, reqs []webhook.Request, n int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(reqs)); i = next.Add(1) - 1 {
				if _, err := c.Deliver(ctx, reqs[i]); err != nil {
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

// throughWorkers measures the maps of Deliver on worker processes.
func throughWorkers(ctx context.Context, bin string, reqs []webhook.Request, res *benchjson.Webhook) error {
	c, err := benchenv.StartCluster(ctx, benchenv.ClusterSpec{Name: "webhookbench", Bin: bin, Workers: res.Workers, Slots: res.Slots,
		WriteConfig: writeConfig})
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := c.Pool(ctx, "", webhook.Name)
	if err != nil {
		return err
	}
	defer p.Close()
	mapOf := func(opts ...pool.MapOption) func() error {
		return func() error {
			out, err := pool.Map(ctx, p, webhook.Deliver, reqs, opts...)
			if err == nil && out[len(out)-1].Status != http.StatusOK {
				err = fmt.Errorf("the last delivery answered %d", out[len(out)-1].Status)
			}
			return err
		}
	}
	if res.Chunk1, err = median(res.Rounds, res.Calls, mapOf(pool.Chunksize(1))); err != nil {
		return err
	}
	chunkItems, last := 0, 0
	progress := pool.Progress(func(done, _ int) { chunkItems, last = max(chunkItems, done-last), done })
	res.AutoChunks, err = median(res.Rounds, res.Calls, func() error { last = 0; return mapOf(progress)() })
	res.ChunkItems = chunkItems
	return err
}

// writeConfig is benchenv's config with a webhook secret file.
func writeConfig(dir, addr string) (string, error) {
	cfgPath, err := benchenv.WriteConfig(dir, addr)
	if err != nil {
		return "", err
	}
	secretPath := filepath.Join(dir, "webhook.secret")
	if err := os.WriteFile(secretPath, secret, 0o600); err != nil {
		return "", err
	}
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return "", err
	}
	_, err = fmt.Fprintf(f, "[http]\nwebhook_secret_file = %s\n", secretPath)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return cfgPath, err
}

// median runs fn rounds times and returns the median of calls/s.
func median(rounds, calls int, fn func() error) (float64, error) {
	var rates []float64
	for range rounds {
		start := time.Now()
		if err := fn(); err != nil {
			return 0, err
		}
		rates = append(rates, float64(calls)/time.Since(start).Seconds())
	}
	slices.Sort(rates)
	return rates[len(rates)/2], nil
}
