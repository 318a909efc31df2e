package fanout_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
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
