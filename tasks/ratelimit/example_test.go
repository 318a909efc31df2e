package ratelimit_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/tasks/ratelimit"
)

// Every process of the cluster opens the shared store with the same
// limits; a dispatcher calls Acquire before it starts a task of a queue
// and the release when the task ends.
func Example() {
	dir, err := os.MkdirTemp("", "ratelimit-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(dir, "tasks.db")) // or postgres://... for several hosts
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	f, err := config.Parse("config.ini", []byte("[client]\njob_server_url = gear1\n[queue reports]\nmax_running = 1\nrate = 5\n"))
	if err != nil {
		log.Fatal(err)
	}
	l, err := ratelimit.New(ctx, db, ratelimit.FromConfig(f.Queues))
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	release, err := l.Acquire(ctx, "reports") // waits for a token and a slot
	if err != nil {
		log.Fatal(err)
	}
	// The only slot is taken: TryAcquire says to ask again later.
	again, wait, err := l.TryAcquire(ctx, "reports")
	fmt.Println(again == nil, wait, err)
	release() // the task ended

	// A queue with no limits never waits nor asks the store.
	free, _ := l.Acquire(ctx, "emails")
	free()
	fmt.Println(l.Stats()["reports"].Acquired, l.Stats()["reports"].SlotWaits)
	// Output:
	// true 100ms <nil>
	// 1 1
}

// Limits are checked as a config file's are, naming the key.
func ExampleLimits_Validate() {
	err := ratelimit.Limits{Rate: 50, Burst: 10}.Validate()
	fmt.Println(err)
	// Output: burst: 10 is below rate 50: burst is the most dispatches in any one second, so it must be at least the rate
}
