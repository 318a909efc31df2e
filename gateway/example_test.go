package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gateway"
	"github.com/glimpse-go/glimpse/pool"
)

// Double is exposed over HTTP next to its registration.
var Double = gateway.Expose(pool.Register("gateway-example.double", func(_ context.Context, x float64) (float64, error) {
	return 2 * x, nil
}))

// A local cluster's functions over HTTP: a JSON array in, the results
// out, in order; a value that does not fit names its item.
func ExampleExpose() {
	ctx := context.Background()
	l, err := cluster.StartLocal(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	srv := httptest.NewServer(gateway.New(gateway.Options{Pool: l.Pool()}))
	defer srv.Close()
	for _, body := range []string{`[1, 2.5, 4]`, `[1, "two"]`} {
		resp, err := http.Post(srv.URL+"/v1/functions/gateway-example.double/map", "application/json", strings.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print(resp.StatusCode, " ", string(out))
	}
	// Output:
	// 200 [2,5,8]
	// 400 {"error":"item 1: want number, got string","index":1}
}

// Without a task service, the task routes say so.
func ExampleNew() {
	srv := httptest.NewServer(gateway.New(gateway.Options{}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/queue", "application/x-www-form-urlencoded",
		strings.NewReader("task.url=http://localhost:9099/worker&task.countdown=5&foo=bar"))
	if err != nil {
		log.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.StatusCode, " ", string(out))
	// Output: 503 {"error":"task service not configured"}
}

// The OpenAPI document lists every route.
func ExampleOpenAPI() {
	doc := string(gateway.OpenAPI())
	fmt.Println(strings.Contains(doc, `"/v1/functions/{name}/map"`), strings.Contains(doc, `"/queue"`))
	// Output: true true
}

// Exposed lists the functions this process serves as JSON.
func ExampleExposed() {
	for _, name := range gateway.Exposed() {
		if strings.HasPrefix(name, "glimpse.") || strings.HasPrefix(name, "gateway-example.") {
			fmt.Println(name)
		}
	}
	// Output:
	// gateway-example.double
	// glimpse.webhook
}

// ResultJSON converts a task's stored result for GET /tasks/{id}; an
// unknown function has none.
func ExampleResultJSON() {
	v, err := gateway.ResultJSON("no-such-function", []byte{1})
	fmt.Println(v == nil, err)
	// Output: true <nil>
}

// Serve on a loopback port until the context ends, with the [http]
// section's limits; Listen and URL give the address.
func ExampleGateway_Serve() {
	opts, err := gateway.OptionsFrom(config.DefaultHTTP())
	if err != nil {
		log.Fatal(err)
	}
	ln, err := gateway.Listen("127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- gateway.New(opts).Serve(ctx, ln, gateway.TimeoutsFrom(config.DefaultHTTP())) }()
	resp, err := http.Get(gateway.URL(ln) + "healthz")
	if err != nil {
		log.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	stop()
	fmt.Print(resp.StatusCode, " ", string(out))
	fmt.Println(<-served)
	// Output:
	// 200 {"status":"ok"}
	// <nil>
}
