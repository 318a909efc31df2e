package fanout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/fanout"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/gearmand"
)

// Two fanout workers share one subscriber store; each joins the
// matchmaking topic under its id, which WithID makes stable across
// restarts (a default id is new in every process).
func ExampleWithID() {
	dir, err := os.MkdirTemp("", "fanout-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := config.DefaultFanout()
	cfg.Store = filepath.Join(dir, "subscribers.db")
	client := config.Client{JobServers: []string{"127.0.0.1:4730"}} // only Run contacts it

	for _, id := range []string{"fanout-a", "fanout-b"} {
		w, err := fanout.NewWorker(client, cfg, fanout.WithID(id))
		if err != nil {
			log.Fatal(err)
		}
		defer w.Close()
	}
	s, err := fanout.OpenStore(cfg.Store)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	all, err := s.All(context.Background())
	fmt.Println(all, err)
	// Output: [__matchmaking/fanout-a __matchmaking/fanout-b] <nil>
}

// startFanout starts a job server and a fanout worker with opts; stop
// ends both.
func startFanout(opts ...fanout.Option) (servers []string, stop func()) {
	ctx := context.Background()
	srv, err := gearmand.Start(ctx, gearmand.Options{})
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "fanout-example-")
	if err != nil {
		log.Fatal(err)
	}
	cfg := config.DefaultFanout()
	cfg.Store = filepath.Join(dir, "subscribers.db")
	fw, err := fanout.NewWorker(config.Client{JobServers: []string{srv.Addr()}}, cfg, opts...)
	if err != nil {
		log.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- fw.Run() }()
	return []string{srv.Addr()}, func() {
		fw.Shutdown(ctx)
		<-ran
		srv.Stop()
		os.RemoveAll(dir)
	}
}

// A fanout to many subscribers with slow replies holds one of the
// worker's job slots for its whole copy wait: a cluster with many
// concurrent fanouts gives the worker more of them.
func ExampleWithConcurrency() {
	servers, stop := startFanout(fanout.WithConcurrency(64))
	defer stop()
	ctx := context.Background()
	c, err := gearman.NewClient(ctx, servers)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	w, err := gearman.NewWorker(servers)
	if err != nil {
		log.Fatal(err)
	}
	w.Register("memos_bob", reply("read"))
	go w.Run()
	defer w.Close()
	waitForWorker(servers[0], "memos_bob")

	if err := fanout.Subscribe(ctx, c, "memos", "bob"); err != nil {
		log.Fatal(err)
	}
	n, err := fanout.Send(ctx, c, fanout.Request{Topic: "memos", Payload: fanout.StringPayload("hello")})
	fmt.Println(n, err)
	// Output: 1 <nil>
}

func ExampleWithLogger() {
	// Text without the time and the ids, which change from run to run.
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key != slog.LevelKey && a.Key != slog.MessageKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	servers, stop := startFanout(fanout.WithLogger(logger))
	ctx := context.Background()
	c, err := gearman.NewClient(ctx, servers)
	if err != nil {
		log.Fatal(err)
	}
	if err := fanout.Subscribe(ctx, c, "memos", "bob"); err != nil {
		log.Fatal(err)
	}
	c.Close()
	stop()
	// Leave out the job server connections' events ("gearman: ..."), which
	// depend on timing; show the fanout worker's own lines.
	for line := range strings.Lines(buf.String()) {
		if !strings.Contains(line, `msg="gearman:`) {
			fmt.Print(line)
		}
	}
	// Output: level=INFO msg=subscribed
}

func ExampleCopiesError_Error() {
	// What Send returns when some copies failed: one CopyError each.
	var err error = &fanout.CopiesError{Errs: []fanout.CopyError{
		{ClientID: "carol", Err: `no worker registered for queue "memos_carol" on any job server`},
		{ClientID: "dave", Err: "timeout after 30s"},
	}}
	var ce *fanout.CopiesError
	if errors.As(err, &ce) {
		for _, e := range ce.Errs {
			fmt.Println(e.ClientID)
		}
	}
	fmt.Println(err)
	// Output:
	// carol
	// dave
	// fanout: 2 copies failed: carol: no worker registered for queue "memos_carol" on any job server; dave: timeout after 30s
}

// What the fanout worker refuses, before it copies or stores anything;
// the caller reads the same text as the job's WORK_EXCEPTION.
func ExampleLimitError_Error() {
	for _, err := range []error{
		&fanout.LimitError{Function: fanout.FuncFanout, Key: "max_payload", Limit: 65536, Size: 1 << 20, Topic: "memos"},
		&fanout.LimitError{Function: fanout.FuncSubscribe, Key: "max_subscribers", Limit: 10000, Size: 10000, Topic: "memos", ClientID: "mallory"},
	} {
		fmt.Println(errors.Is(err, fanout.ErrOverLimit), err)
	}
	// Output:
	// true fanout: payload of 1048576 bytes for topic "memos" is over the limit of 65536 (max_payload in [fanout])
	// true subscribe_fanout: topic "memos" has 10000 subscribers, the limit (max_subscribers in [fanout]): client "mallory" refused
}

func ExampleLimitError_Is() {
	err := fmt.Errorf("send: %w", &fanout.LimitError{Function: fanout.FuncFanout, Key: "max_subscribers", Limit: 2, Size: 3, Topic: "memos"})
	fmt.Println(errors.Is(err, fanout.ErrOverLimit))
	fmt.Println(err)
	// Output:
	// true
	// send: fanout: topic "memos" has 3 subscribers, over the limit of 2 (max_subscribers in [fanout])
}

func ExampleCopyError_MarshalJSON() {
	// gearhorn's wire form: [client_id, error].
	b, err := json.Marshal([]fanout.CopyError{{ClientID: "carol", Err: "worker failure (WORK_FAIL)"}})
	fmt.Println(string(b), err)
	// Output: [["carol","worker failure (WORK_FAIL)"]] <nil>
}

func ExampleCopyError_UnmarshalJSON() {
	var e fanout.CopyError
	fmt.Println(json.Unmarshal([]byte(`["dave", "timeout"]`), &e), e.ClientID, e.Err)
	fmt.Println(json.Unmarshal([]byte(`{"client_id": "dave"}`), &e) != nil) // not gearhorn's pair
	// Output:
	// <nil> dave timeout
	// true
}

func ExampleSubscription_String() {
	s := fanout.Subscription{Topic: "memos", ClientID: "bob"}
	fmt.Println(s)
	// Output: memos/bob
}

// A program with no access to this package, or in another language,
// subscribes with a raw Gearman call whose payload is this JSON.
func ExampleSubscribeRequest() {
	b, err := json.Marshal(fanout.SubscribeRequest{Topic: "memos", ClientID: "bob"})
	fmt.Println(fanout.FuncSubscribe, string(b), err)
	// Output: subscribe_fanout {"topic":"memos","client_id":"bob"} <nil>
}
