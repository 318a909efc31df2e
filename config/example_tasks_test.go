package config_test

import (
	"fmt"

	"github.com/glimpse-go/glimpse/config"
)

// The [tasks] defaults; the task store is the [fanout] store unless set.
func ExampleDefaultTasks() {
	t := config.DefaultTasks()
	fmt.Println(t.Serve, t.Lease, t.MaxAttempts, t.MinBackoff, t.MaxBackoff)
	path, _ := t.StorePath(config.Fanout{Store: "/var/lib/glimpse/state.db"})
	fmt.Println(path)
	t.MaxBackoff = 0
	fmt.Println(t.Validate() != nil)
	// Output:
	// true 30s 5 1s 10m0s
	// /var/lib/glimpse/state.db
	// true
}
