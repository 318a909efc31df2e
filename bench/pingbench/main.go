// Command pingbench measures how long a broadcast ping takes to come back
// from every worker: through the fanout worker and through the broker's
// command channel, for several worker counts. Each worker is a real
// `glimpse-cluster worker -n 1` process; gearmand, the broker and the
// fanout worker run as they would in a cluster (gearmand managed, the
// other two in this process).
//
//	pingbench [-workers 10,50,100] [-pings 20] [-key] [-json FILE]
//
// -json writes the figures as JSON (bench/internal/benchjson.Ping) for
// bench/report. -key runs everything a second time with a cluster key
// (CURVE on the channels, sealed commands, replies, log records and
// heartbeats) and prints the keyed figures and the keyed/keyless ratio of
// the medians; the JSON holds both (Rows, Keyed) and the ratios
// (KeyRatios).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchenv"
	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/fanout"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/pool"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("pingbench: ")
	counts := flag.String("workers", "10,50,100", "comma-separated worker process counts")
	pings := flag.Int("pings", 20, "pings per count and channel; the median and the worst are reported")
	bin := flag.String("bin", "bin/glimpse-cluster", "the glimpse-cluster binary (make builds it)")
	jsonPath := flag.String("json", "", "also write the figures as JSON to this `FILE`")
	keyed := flag.Bool("key", false, "run again with a cluster key and print the keyed/keyless ratio")
	flag.Parse()
	if *pings < 1 {
		log.Fatalf("-pings %d: need at least 1", *pings)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out, err := run(ctx, *counts, *pings, *bin, false)
	if err != nil {
		log.Fatal(err)
	}
	if *keyed {
		withKey, err := run(ctx, *counts, *pings, *bin, true)
		if err != nil {
			log.Fatal(err)
		}
		out.Keyed = withKey.Rows
		out.KeyRatios = keyRatios(out.Rows, withKey.Rows)
		printRatios(out.KeyRatios)
	}
	if *jsonPath != "" {
		if err := benchjson.Write(*jsonPath, out); err != nil {
			log.Fatal(err)
		}
	}
}

// keyRatios pairs each keyless row with the keyed row of the same
// worker count and channel: the keyed median over the keyless one.
func keyRatios(plain, keyed []benchjson.PingRow) []benchjson.PingKeyRatio {
	var out []benchjson.PingKeyRatio
	for _, r := range plain {
		for _, k := range keyed {
			if k.Workers == r.Workers && k.Via == r.Via {
				out = append(out, benchjson.PingKeyRatio{Workers: r.Workers, Via: r.Via,
					KeylessMedianMs: r.MedianMs, KeyedMedianMs: k.MedianMs, Ratio: k.MedianMs / r.MedianMs})
			}
		}
	}
	return out
}

// printRatios prints, per worker count and channel, the keyed median over
// the keyless one.
func printRatios(rs []benchjson.PingKeyRatio) {
	fmt.Printf("\n%-8s %-8s %12s %12s %8s\n", "workers", "via", "plain_ms", "keyed_ms", "ratio")
	for _, r := range rs {
		fmt.Printf("%-8d %-8s %12.1f %12.1f %8.2f\n", r.Workers, r.Via, r.KeylessMedianMs, r.KeyedMedianMs, r.Ratio)
	}
}

// run measures every count; keyed runs the cluster with a fresh key.
func run(ctx context.Context, counts string, pings int, bin string, keyed bool) (benchjson.Ping, error) {
	out := benchjson.Ping{Pings: pings}
	dir, err := os.MkdirTemp("", "pingbench-")
	if err != nil {
		return out, err
	}
	defer os.RemoveAll(dir)
	var key *auth.Key
	keyFile := ""
	if keyed {
		if key, err = auth.GenerateKey(); err != nil {
			return out, err
		}
		keyFile = filepath.Join(dir, "cluster.key")
		if err := key.WriteFile(keyFile); err != nil {
			return out, err
		}
		fmt.Println("with a cluster key (CURVE, sealed logs):")
	}
	gd, err := benchenv.StartGearmand(ctx, dir)
	if err != nil {
		return out, err
	}
	defer gd.Stop()
	any := "tcp://127.0.0.1:*"
	b, err := broker.New(config.Server{CommandFrontendURL: any, CommandBackendURL: any, LogFrontendURL: any, LogBackendURL: any},
		broker.WithKey(key))
	if err != nil {
		return out, err
	}
	go b.Serve()
	defer b.Close()
	a := b.Addrs()
	cfg := config.Client{JobServers: []string{gd.Addr()}, CommandFrontendURL: a.CommandFrontendURL,
		CommandBackendURL: a.CommandBackendURL, LogFrontendURL: a.LogFrontendURL, LogBackendURL: a.LogBackendURL, KeyFile: keyFile}
	fc := config.DefaultFanout()
	fc.Store = filepath.Join(dir, "fanout.db")
	fw, err := fanout.NewWorker(cfg, fc)
	if err != nil {
		return out, err
	}
	go fw.Run()
	defer fw.Close()
	cfgPath := filepath.Join(dir, "config.ini")
	text := fmt.Sprintf("[client]\njob_server_url = %s\ncommand_frontend_url = %s\ncommand_backend_url = %s\nlog_frontend_url = %s\nlog_backend_url = %s\nkey_file = %s\n[worker]\nlog_level = error\n",
		gd.Addr(), cfg.CommandFrontendURL, cfg.CommandBackendURL, cfg.LogFrontendURL, cfg.LogBackendURL, keyFile)
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		return out, err
	}
	p, err := pool.New(cfg)
	if err != nil {
		return out, err
	}
	defer p.Close()
	// The command channel's client sockets live as long as a program's
	// would: set up once, used for every ping.
	z, err := newZMQPinger(cfg, key)
	if err != nil {
		return out, err
	}
	defer z.close()

	fmt.Printf("%-8s %-8s %12s %12s %12s\n", "workers", "via", "median_ms", "p90_ms", "max_ms")
	ns, err := benchenv.ParseList("-workers", counts, 1)
	if err != nil {
		return out, err
	}
	ws := benchenv.NewWorkers(bin, cfgPath, 1)
	defer ws.Stop()
	for _, n := range ns {
		if err := ws.Start(n - ws.Len()); err != nil {
			return out, err
		}
		if err := waitAll(ctx, p, n); err != nil {
			return out, err
		}
		for _, via := range []string{"fanout", "zmq"} {
			var took []time.Duration
			for range pings {
				d, got, err := ping(ctx, p, z, via, n)
				if err != nil {
					return out, err
				}
				if got != n {
					return out, fmt.Errorf("ping via %s: %d of %d workers answered", via, got, n)
				}
				took = append(took, d)
			}
			all := make([]float64, len(took))
			for i, d := range took {
				all[i] = ms(d)
			}
			slices.Sort(took)
			row := benchjson.PingRow{Workers: n, Via: via, AllMs: all, MedianMs: ms(took[len(took)/2]),
				P90Ms: ms(took[(len(took)*9+9)/10-1]), MaxMs: ms(took[len(took)-1])}
			fmt.Printf("%-8d %-8s %12.1f %12.1f %12.1f\n", n, via, row.MedianMs, row.P90Ms, row.MaxMs)
			out.Rows = append(out.Rows, row)
		}
	}
	return out, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// waitAll waits until n workers answer a ping.
func waitAll(ctx context.Context, p *pool.Pool, n int) error {
	deadline := time.Now().Add(time.Minute)
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		stats, err := p.Ping(pctx)
		cancel()
		if err == nil && len(stats) == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d workers never all answered (last: %d, %v)", n, len(stats), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ping times one ping until all n answers are in: through the fanout
// worker the answer is complete when the job returns; over the command
// channel the client counts the replies.
func ping(ctx context.Context, p *pool.Pool, z *zmqPinger, via string, n int) (time.Duration, int, error) {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if via == "fanout" {
		start := time.Now()
		stats, err := p.Ping(pctx)
		return time.Since(start), len(stats), err
	}
	return z.ping(pctx, n)
}

type zmqPinger struct {
	pub *broker.Publisher
	sub *broker.Subscriber
	key *auth.Key // the cluster's ([client] key_file), nil for none
}

func newZMQPinger(cfg config.Client, key *auth.Key) (*zmqPinger, error) {
	peers := broker.Peers{Key: key}
	sub, err := peers.NewSubscriber(cfg.LogBackendURL, "reply.")
	if err != nil {
		return nil, err
	}
	pub, err := peers.NewPublisher(cfg.CommandFrontendURL)
	if err != nil {
		sub.Close()
		return nil, err
	}
	return &zmqPinger{pub: pub, sub: sub, key: key}, nil
}

func (z *zmqPinger) close() {
	z.pub.Close()
	z.sub.Close()
}

func (z *zmqPinger) ping(ctx context.Context, n int) (time.Duration, int, error) {
	if err := z.pub.WaitSubscribed(ctx, "cmd"); err != nil {
		return 0, 0, err
	}
	cmd := pool.NewCommand(pool.CommandPing, 5*time.Second)
	data, _ := json.Marshal(cmd)
	data, _ = z.key.SealJSON(auth.PurposeCommand, data) // as glimpse-cluster ping -via zmq sends it
	start := time.Now()
	if err := z.pub.Send("cmd", data); err != nil {
		return 0, 0, err
	}
	seen := map[string]bool{}
	for len(seen) < n {
		topic, parts, err := z.sub.Recv(ctx)
		if err != nil {
			return time.Since(start), len(seen), nil
		}
		var r pool.Reply
		if topic != "reply."+cmd.ID || len(parts) != 1 {
			continue
		}
		if body, err := z.key.OpenJSON(auth.PurposeReply, parts[0]); err == nil && json.Unmarshal(body, &r) == nil && r.Command == cmd.ID {
			seen[r.Worker] = true
		}
	}
	return time.Since(start), len(seen), nil
}
