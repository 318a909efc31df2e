package fanout_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/fanout"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/gearmand"
)

// gearhorn's example: bob subscribes to officememos, and a memo sent to
// the topic reaches his queue, officememos_bob.
func Example() {
	ctx := context.Background()
	srv, err := gearmand.Start(ctx, gearmand.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()
	servers := []string{srv.Addr()}
	dir, err := os.MkdirTemp("", "fanout-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The fanout worker, with its subscriber list in an SQLite file.
	cfg := config.DefaultFanout()
	cfg.Store = filepath.Join(dir, "subscribers.db")
	fw, err := fanout.NewWorker(config.Client{JobServers: servers}, cfg)
	if err != nil {
		log.Fatal(err)
	}
	go fw.Run()
	defer fw.Shutdown(ctx)

	// Bob serves his queue, then subscribes.
	bob, err := gearman.NewWorker(servers)
	if err != nil {
		log.Fatal(err)
	}
	bob.Register("officememos_bob", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		return []byte(`{"read": "` + string(j.Data) + `"}`), nil
	})
	go bob.Run()
	defer bob.Close()
	waitForWorker(srv.Addr(), "officememos_bob")

	c, err := gearman.NewClient(ctx, servers)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Call(ctx, fanout.FuncSubscribe, []byte(`{"topic": "officememos", "client_id": "bob"}`)); err != nil {
		log.Fatal(err)
	}

	// A foreground fanout returns how many copies were delivered...
	res, err := c.Call(ctx, fanout.FuncFanout, []byte(`{"topic": "officememos", "payload": "hello"}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("delivered:", string(res))

	// ... and with "collect", every subscriber's reply.
	res, err = c.Call(ctx, fanout.FuncFanout, []byte(`{"topic": "officememos", "payload": "hello", "collect": true}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(res))
	// Output:
	// delivered: 1
	// {"replies":{"bob":{"read":"hello"}},"errors":{}}
}

// waitForWorker waits until the job server lists a worker for fn: a
// foreground fanout fails at once for a queue that nobody serves.
func waitForWorker(addr, fn string) {
	a, err := gearman.DialAdmin(context.Background(), addr)
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	for {
		st, err := a.Status(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		for _, f := range st {
			if f.Name == fn && f.Workers > 0 {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exampleCluster is what the examples below share: a job server, a
// fanout worker with its subscriber list in an SQLite file, and a client.
type exampleCluster struct {
	srv     *gearmand.Process
	servers []string
	dir     string
	fw      *fanout.Worker
	client  *gearman.Client
	workers []*gearman.Worker
}

func startExampleCluster() *exampleCluster {
	ctx := context.Background()
	srv, err := gearmand.Start(ctx, gearmand.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ec := &exampleCluster{srv: srv, servers: []string{srv.Addr()}}
	if ec.dir, err = os.MkdirTemp("", "fanout-example-"); err != nil {
		log.Fatal(err)
	}
	cfg := config.DefaultFanout()
	cfg.Store = filepath.Join(ec.dir, "subscribers.db")
	if ec.fw, err = fanout.NewWorker(config.Client{JobServers: ec.servers}, cfg); err != nil {
		log.Fatal(err)
	}
	go ec.fw.Run()
	if ec.client, err = gearman.NewClient(ctx, ec.servers); err != nil {
		log.Fatal(err)
	}
	return ec
}

// serve runs a subscriber's worker for queue and waits until the job
// server lists it.
func (ec *exampleCluster) serve(queue string, fn gearman.JobFunc) {
	w, err := gearman.NewWorker(ec.servers)
	if err != nil {
		log.Fatal(err)
	}
	w.Register(queue, fn)
	go w.Run()
	ec.workers = append(ec.workers, w)
	waitForWorker(ec.srv.Addr(), queue)
}

func (ec *exampleCluster) stop() {
	for _, w := range ec.workers {
		w.Close()
	}
	ec.client.Close()
	ec.fw.Shutdown(context.Background())
	ec.srv.Stop()
	os.RemoveAll(ec.dir)
}

// reply answers every copy with a fixed text.
func reply(text string) gearman.JobFunc {
	return func(context.Context, *gearman.Job) ([]byte, error) { return []byte(text), nil }
}

func ExampleSubscribe() {
	ec := startExampleCluster()
	defer ec.stop()
	ctx := context.Background()

	// Serve the queue first: a foreground fanout fails at once for a
	// queue that nobody serves.
	ec.serve(fanout.Subscription{Topic: "memos", ClientID: "bob"}.Queue(), reply("read"))
	if err := fanout.Subscribe(ctx, ec.client, "memos", "bob"); err != nil {
		log.Fatal(err)
	}
	n, err := fanout.Send(ctx, ec.client, fanout.Request{Topic: "memos", Payload: fanout.StringPayload("hello")})
	fmt.Println(n, err)
	// Output: 1 <nil>
}

func ExampleUnsubscribe() {
	ec := startExampleCluster()
	defer ec.stop()
	ctx := context.Background()

	ec.serve("memos_bob", reply("read"))
	fanout.Subscribe(ctx, ec.client, "memos", "bob")
	if err := fanout.Unsubscribe(ctx, ec.client, "memos", "bob"); err != nil {
		log.Fatal(err)
	}
	n, err := fanout.Send(ctx, ec.client, fanout.Request{Topic: "memos", Payload: fanout.StringPayload("hello")})
	fmt.Println(n, err)
	// Output: 0 <nil>
}

// Send counts the copies delivered; when some fail, it returns a
// *CopiesError that says which and why.
func ExampleSend() {
	ec := startExampleCluster()
	defer ec.stop()
	ctx := context.Background()

	ec.serve("memos_bob", reply("read"))
	fanout.Subscribe(ctx, ec.client, "memos", "bob")
	memo := fanout.Request{Topic: "memos", Payload: fanout.StringPayload("hello")}
	n, err := fanout.Send(ctx, ec.client, memo)
	fmt.Println("foreground:", n, err)

	// Carol subscribes but nobody serves her queue.
	fanout.Subscribe(ctx, ec.client, "memos", "carol")
	_, err = fanout.Send(ctx, ec.client, memo)
	var ce *fanout.CopiesError
	if errors.As(err, &ce) {
		fmt.Println(ce.Errs[0].ClientID+":", ce.Errs[0].Err)
	}

	// A background fanout only queues the copies.
	memo.Background = true
	n, err = fanout.Send(ctx, ec.client, memo)
	fmt.Println("background:", n, err)
	// Output:
	// foreground: 1 <nil>
	// carol: no worker registered for queue "memos_carol" on any job server
	// background: 2 <nil>
}

func ExampleCollect() {
	ec := startExampleCluster()
	defer ec.stop()
	ctx := context.Background()

	ec.serve("stats_w1", reply(`{"jobs": 3}`))
	ec.serve("stats_w2", reply("busy"))
	fanout.Subscribe(ctx, ec.client, "stats", "w1")
	fanout.Subscribe(ctx, ec.client, "stats", "w2")
	fanout.Subscribe(ctx, ec.client, "stats", "w3") // gone: nobody serves stats_w3
	got, err := fanout.Collect(ctx, ec.client, fanout.Request{Topic: "stats", Payload: fanout.StringPayload("report")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(got.Replies["w1"]), string(got.Replies["w2"]))
	fmt.Println(got.Errors["w3"])
	// Output:
	// {"jobs":3} "busy"
	// no worker registered for queue "stats_w3" on any job server
}

func ExampleStringPayload() {
	// gearhorn's form: a JSON string whose text each subscriber gets.
	b, _ := fanout.Request{Topic: "memos", Payload: fanout.StringPayload("hello")}.Marshal()
	fmt.Println(string(b))
	// Output: {"topic":"memos","payload":"hello"}
}

func ExampleRequest_Marshal() {
	// Any other JSON value is delivered as its JSON text.
	b, err := fanout.Request{Topic: "commands", Payload: json.RawMessage(`{"cmd": "ping"}`), Timeout: 2}.Marshal()
	fmt.Println(string(b), err)
	// Output: {"topic":"commands","payload":{"cmd":"ping"},"timeout":2} <nil>
}

func ExampleParseCopyErrors() {
	// The WORK_EXCEPTION data of a fanout some of whose copies failed:
	// gearhorn's [client_id, error] pairs.
	errs, err := fanout.ParseCopyErrors([]byte(`[["carol", "worker failure (WORK_FAIL)"]]`))
	fmt.Println(errs, err)
	// Output: [{carol worker failure (WORK_FAIL)}] <nil>
}

func ExampleSubscription_Queue() {
	s := fanout.Subscription{Topic: "officememos", ClientID: "bob"}
	fmt.Println(s.Queue())
	// Output: officememos_bob
}

func ExampleOpenStore() {
	dir, err := os.MkdirTemp("", "fanout-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// A file path is an SQLite store; "postgres://..." a shared one.
	s, err := fanout.OpenStore(filepath.Join(dir, "subscribers.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	s.Subscribe(ctx, "memos", "bob")
	s.Subscribe(ctx, "memos", "alice")
	subs, _ := s.Subscribers(ctx, "memos")
	fmt.Println(subs)
	s.Remove(ctx, fanout.Subscription{Topic: "memos", ClientID: "bob"})
	all, _ := s.All(ctx)
	fmt.Println(all)
	// Output:
	// [alice bob]
	// [memos/alice]
}

// NewWorker opens the store and joins the matchmaking topic; only Run
// contacts the job servers, so this needs none running.
func ExampleNewWorker() {
	dir, err := os.MkdirTemp("", "fanout-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	cfg := config.DefaultFanout()
	cfg.Store = filepath.Join(dir, "subscribers.db")
	w, err := fanout.NewWorker(config.Client{JobServers: []string{"127.0.0.1:4730"}}, cfg,
		fanout.WithID("fanout-1"), fanout.WithConcurrency(16),
		fanout.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	fmt.Println(w.ID())

	_, err = fanout.NewWorker(config.Client{}, cfg)
	fmt.Println(err)
	// Output:
	// fanout-1
	// fanout: [client] job_server_url: missing: name at least one Gearman job server, host:port[,host2:port]
}

func ExampleWorker_ID() {
	dir, err := os.MkdirTemp("", "fanout-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := config.DefaultFanout()
	cfg.Store = filepath.Join(dir, "subscribers.db")
	w, err := fanout.NewWorker(config.Client{JobServers: []string{"127.0.0.1:4730"}}, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	// Unique per process unless WithID sets it: fanout-<host>-<pid>-<random>.
	fmt.Println(strings.HasPrefix(w.ID(), "fanout-"))
	// Output: true
}

// Run serves until Shutdown or Close; one Run at a time.
func ExampleWorker_Run() {
	ctx := context.Background()
	srv, err := gearmand.Start(ctx, gearmand.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()
	dir, err := os.MkdirTemp("", "fanout-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := config.DefaultFanout()
	cfg.Store = filepath.Join(dir, "subscribers.db")
	w, err := fanout.NewWorker(config.Client{JobServers: []string{srv.Addr()}}, cfg)
	if err != nil {
		log.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	waitForWorker(srv.Addr(), fanout.FuncFanout) // serving

	fmt.Println(w.Run())
	w.Shutdown(ctx)
	fmt.Println(<-ran)
	// Output:
	// fanout: worker: already running
	// fanout: worker closed
}

// Shutdown leaves the matchmaking topic, so the other fanout workers stop
// sending this one reloads, and lets the fanouts in progress finish.
func ExampleWorker_Shutdown() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fanout-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := fanout.OpenStore(filepath.Join(dir, "subscribers.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	w, err := fanout.NewWorker(config.Client{JobServers: []string{"127.0.0.1:4730"}}, config.DefaultFanout(),
		fanout.WithStore(store), fanout.WithID("fanout-1"))
	if err != nil {
		log.Fatal(err)
	}
	subs, _ := store.Subscribers(ctx, fanout.MatchmakingTopic)
	fmt.Println(subs)

	fmt.Println(w.Shutdown(ctx))
	subs, _ = store.Subscribers(ctx, fanout.MatchmakingTopic)
	fmt.Println(subs)
	fmt.Println(w.Run())
	// Output:
	// [fanout-1]
	// <nil>
	// []
	// fanout: worker closed
}

// Close stops at once and stays in the matchmaking topic: the other
// fanout workers prune it after [fanout] prune_after.
func ExampleWorker_Close() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fanout-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := fanout.OpenStore(filepath.Join(dir, "subscribers.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	w, err := fanout.NewWorker(config.Client{JobServers: []string{"127.0.0.1:4730"}}, config.DefaultFanout(),
		fanout.WithStore(store), fanout.WithID("fanout-1"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(w.Close())
	subs, _ := store.Subscribers(ctx, fanout.MatchmakingTopic)
	fmt.Println(subs)
	err = w.Run()
	fmt.Println(err, errors.Is(err, fanout.ErrWorkerClosed))
	// Output:
	// <nil>
	// [fanout-1]
	// fanout: worker closed true
}

// A store given with WithStore replaces [fanout] store, which may then be
// empty; the worker does not close it.
func ExampleWithStore() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fanout-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := fanout.OpenStore(filepath.Join(dir, "shared.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	cfg := config.Fanout{CopyTimeout: 30 * time.Second, PruneAfter: time.Minute} // no Store
	w, err := fanout.NewWorker(config.Client{JobServers: []string{"127.0.0.1:4730"}}, cfg,
		fanout.WithStore(store), fanout.WithID("fanout-1"))
	if err != nil {
		log.Fatal(err)
	}
	w.Close()
	all, err := store.All(ctx) // still open
	fmt.Println(all, err)
	// Output: [__matchmaking/fanout-1] <nil>
}

// Subscribers lists what a fanout to a topic is copied to now: the
// worker's own list, loaded from the store when it starts (and after
// every subscribe), so a new worker starts with the fanout worker itself.
func ExampleWorker_Subscribers() {
	dir, err := os.MkdirTemp("", "fanout-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := config.DefaultFanout()
	cfg.Store = filepath.Join(dir, "subscribers.db")
	w, err := fanout.NewWorker(config.Client{JobServers: []string{"127.0.0.1:4730"}}, cfg, fanout.WithID("fanout-1"))
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	fmt.Println(w.Subscribers(fanout.MatchmakingTopic), w.Subscribers("commands"))
	// Output: [fanout-1] []
}
