package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/gateway"
)

// The task routes on a local cluster's task store: enqueue a task of an
// exposed function, then read its state and result.
func ExampleTaskService() {
	ctx := context.Background()
	l, err := cluster.StartLocal(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	srv := httptest.NewServer(gateway.New(gateway.Options{Pool: l.Pool(), Tasks: gateway.TaskService(l.Tasks(), nil)}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/functions/gateway-example.double/tasks", "application/json", strings.NewReader(`{"item": 21}`))
	if err != nil {
		log.Fatal(err)
	}
	var enq struct{ Status, ID string }
	json.NewDecoder(resp.Body).Decode(&enq)
	resp.Body.Close()
	var task gateway.TaskView
	for task.State != "succeeded" && task.State != "failed" {
		time.Sleep(10 * time.Millisecond)
		resp, err := http.Get(srv.URL + "/tasks/" + enq.ID)
		if err != nil {
			log.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&task)
		resp.Body.Close()
	}
	fmt.Println(enq.Status, task.State, task.Attempt, string(task.Result))
	// Output: scheduled succeeded 1 42
}

// A gateway counts its requests by route and status code.
func ExampleGateway_Stats() {
	g := gateway.New(gateway.Options{})
	srv := httptest.NewServer(g)
	defer srv.Close()
	for _, path := range []string{"/healthz", "/healthz", "/tasks/x"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
	}
	for _, r := range g.Stats().Snapshot().Routes {
		fmt.Println(r.Route, r.Code, r.Requests, r.Duration.Count)
	}
	// Output:
	// GET /healthz 200 2 2
	// GET /tasks/{id} 503 1 1
}

// downStore is a task service whose store is down.
type downStore struct{ gateway.Tasks }

func (downStore) Enqueue(context.Context, gateway.EnqueueRequest) (string, error) {
	return "", fmt.Errorf("%w: the database is unreachable", gateway.ErrUnavailable)
}

// A task service that could not store a task wraps ErrUnavailable: the
// enqueue answers 503 with Retry-After, and the client sends it again
// (with an Idempotency-Key, to be sure of one task).
func ExampleErrUnavailable() {
	srv := httptest.NewServer(gateway.New(gateway.Options{Tasks: downStore{}}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/queue", "application/x-www-form-urlencoded", strings.NewReader("task.url=http://127.0.0.1:9/hook&n=1"))
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Retry-After"), strings.TrimSpace(string(body)))
	// Output: 503 1 {"error":"task service unavailable: the database is unreachable"}
}
