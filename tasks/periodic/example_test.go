package periodic_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/store"
	"github.com/glimpse-go/glimpse/tasks/periodic"
)

// A scheduler in each process of the cluster; each period of each entry
// calls enqueue once, in one of them.
func Example() {
	dir, err := os.MkdirTemp("", "periodic-example-")
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

	f, err := config.Parse("config.ini", []byte(`[client]
job_server_url = gear1
[periodic heartbeat]
schedule = @every 1s
function = examples.tick
item = {"source": "example"}
`))
	if err != nil {
		log.Fatal(err)
	}
	fired := make(chan string, 10)
	enqueue := func(ctx context.Context, e periodic.Entry, period time.Time, key string) error {
		// A real one enqueues e.Function(e.Item) on e.Queue with key as
		// the task's idempotency key.
		fired <- fmt.Sprintf("%s %s %t", e.Function, e.Item, key == periodic.Key(e.Name, period))
		return nil
	}
	s, err := periodic.New(db, periodic.FromConfig(f.Periodic), enqueue)
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-fired) // the next whole second
	s.Stop(ctx)
	// Output: examples.tick {"source": "example"} true
}

func ExampleKey() {
	fmt.Println(periodic.Key("nightly", time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)))
	// Output: periodic:nightly:2026-11-30T03:00:00Z
}

// A bad schedule is refused naming the entry and the key, as Load names
// the section and the key of a config file.
func ExampleNew_badSchedule() {
	_, err := periodic.New(nil, []periodic.Entry{{Name: "nightly", Schedule: "0 25 * * *", Function: "reports.build"}},
		func(context.Context, periodic.Entry, time.Time, string) error { return nil })
	fmt.Println(err)
	// Output: periodic: entry "nightly": [periodic nightly] schedule: "0 25 * * *": end of range (25) above maximum (23): 25
}
