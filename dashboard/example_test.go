package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/dashboard"
)

// A dashboard of a cluster: Watch follows it, New serves the page, and
// Serve runs the server until its context ends.
func Example() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer local.Close()
	watch, err := dashboard.Watch(local.Config(), dashboard.WatchOptions{Pool: local.Pool()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer watch.Close()
	ln, err := dashboard.Listen("127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- dashboard.Serve(sctx, ln, dashboard.New(watch)) }()

	watch.Ready(ctx) // the job servers and the ping have answered
	s := watch.Snapshot(ctx)
	fmt.Println("workers:", len(s.Workers), "slots:", s.Workers[0].Slots)
	resp, err := http.Get(dashboard.URL(ln))
	if err == nil {
		fmt.Println("page:", resp.Status)
		resp.Body.Close()
	}
	stop()
	fmt.Println("stopped:", <-served)
	// Output:
	// workers: 1 slots: 2
	// page: 200 OK
	// stopped: <nil>
}

// queueCounts is a stand-in for the task service's counts.
type queueCounts struct{}

func (queueCounts) TaskStates(context.Context) (map[string]int, error) {
	return map[string]int{"queued": 2, "running": 1}, nil
}

// emptySource is a Source with nothing to show.
type emptySource struct{}

func (emptySource) Snapshot(context.Context) dashboard.Snapshot { return dashboard.Snapshot{} }
func (emptySource) Logs(ctx context.Context) <-chan dashboard.LogRecord {
	ch := make(chan dashboard.LogRecord)
	close(ch)
	return ch
}

// WithTasks adds the task service's counts to /api/state.
func ExampleWithTasks() {
	h := dashboard.New(emptySource{}, dashboard.WithTasks(queueCounts{}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/state", nil))
	body, _ := io.ReadAll(rec.Body)
	var tasks struct {
		Tasks map[string]int `json:"tasks"`
	}
	_ = jsonUnmarshal(body, &tasks)
	fmt.Println(tasks.Tasks["queued"], tasks.Tasks["running"])
	// Output: 2 1
}

// Listen refuses every interface: the page has no login.
func ExampleListen() {
	_, err := dashboard.Listen("0.0.0.0:8470")
	fmt.Println(errors.Is(err, dashboard.ErrEveryInterface))
	// Output: true
}

// LevelOf reads a record's level as slog does.
func ExampleLevelOf() {
	fmt.Println(dashboard.LevelOf(dashboard.LogRecord{Level: "WARN"}))
	// Output: WARN
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
