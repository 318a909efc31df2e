package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/pool"
	"github.com/glimpse-go/glimpse/webhook"
)

// A webhook task is a call of the built-in function webhook.Deliver,
// which every worker serves: here a map of one call on a local cluster.
func Example() {
	ctx := context.Background()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		fmt.Fprintf(w, "hello %s", r.PostForm.Get("name"))
	}))
	defer receiver.Close()
	local, err := cluster.StartLocal(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	out, err := pool.Map(ctx, local.Pool(), webhook.Deliver, []webhook.Request{
		{URL: receiver.URL + "/greet", Params: map[string][]string{"name": {"Ada"}}, TaskID: "t-1"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out[0].Status, string(out[0].Body))
	webhook.Default().CloseIdleConnections()
	// Output: 200 hello Ada
}

func ExampleClient_Deliver() {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("%s %s %s task %s attempt %s\n", r.Method, r.URL.Path, body,
			r.Header.Get(webhook.HeaderTaskID), r.Header.Get(webhook.HeaderAttempt))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer receiver.Close()
	c := webhook.NewClient(webhook.Config{Secret: []byte("0123456789abcdef0123456789abcdef")})
	defer c.CloseIdleConnections()

	resp, err := c.Deliver(context.Background(), webhook.Request{
		URL: receiver.URL + "/worker", Params: map[string][]string{"foo": {"bar"}},
		TaskID: "7e998f34", Queue: "default", Attempt: 1,
	})
	fmt.Println(resp.Status, err)
	// Output:
	// POST /worker foo=bar task 7e998f34 attempt 1
	// 202 <nil>
}

// A receiver in Go checks each call with VerifyRequest before it acts.
func ExampleVerifyRequest() {
	secret := []byte("0123456789abcdef0123456789abcdef") // [http] webhook_secret_file's
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := webhook.VerifyRequest(r, secret, 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		r.ParseForm() // the body was put back
		fmt.Fprintf(w, "charged %s", r.PostForm.Get("amount"))
	}))
	defer receiver.Close()

	c := webhook.NewClient(webhook.Config{Secret: secret})
	defer c.CloseIdleConnections()
	resp, err := c.Deliver(context.Background(), webhook.Request{URL: receiver.URL, Params: map[string][]string{"amount": {"10"}}})
	fmt.Println(string(resp.Body), err)

	forged, _ := http.Post(receiver.URL, "application/x-www-form-urlencoded", strings.NewReader("amount=1000"))
	forged.Body.Close()
	fmt.Println(forged.StatusCode)
	// Output:
	// charged 10 <nil>
	// 401
}

func ExampleVerify() {
	secret := []byte("0123456789abcdef0123456789abcdef")
	body := []byte("foo=bar")
	header := webhook.Sign(secret, time.Now(), body)

	fmt.Println(webhook.Verify(secret, header, body, 0))
	fmt.Println(errors.Is(webhook.Verify(secret, header, []byte("foo=baz"), 0), webhook.ErrBadSignature))
	old := webhook.Sign(secret, time.Now().Add(-time.Hour), body)
	fmt.Println(errors.Is(webhook.Verify(secret, old, body, 5*time.Minute), webhook.ErrTimestamp))
	// Output:
	// <nil>
	// true
	// true
}

func ExampleSign() {
	at := time.Unix(1700000000, 0)
	fmt.Println(webhook.Sign([]byte("0123456789abcdef0123456789abcdef"), at, []byte("foo=bar")))
	// Output: t=1700000000,v1=eb536b828926106f38e6ea69c51f9050d871c8ca341685038514d8cbe160a10e
}

// The task service stops retrying a task whose error is permanent: 410
// Gone, or a request that can never be sent.
func ExampleIsPermanent() {
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusGone)
	}))
	defer gone.Close()
	c := webhook.NewClient(webhook.Config{})
	defer c.CloseIdleConnections()

	_, err := c.Deliver(context.Background(), webhook.Request{URL: gone.URL})
	fmt.Println(errors.Is(err, webhook.ErrGone), webhook.IsPermanent(err))
	_, err = c.Deliver(context.Background(), webhook.Request{URL: "http://127.0.0.1:1/"})
	fmt.Println(webhook.IsPermanent(err))
	// Output:
	// true true
	// false
}

func ExampleRequest_Check() {
	r := webhook.Request{URL: "ftp://example.com/hook"}
	fmt.Println(r.Check())
	r = webhook.Request{URL: "https://example.com/hook", Method: "PUT"}
	fmt.Println(r.Check())
	// Output:
	// webhook: Request.URL "ftp://example.com/hook": want an http:// or https:// URL
	// webhook: Request.Method "PUT": want POST or GET
}

// A worker process gives Deliver its secret and default timeout once, at
// start (`glimpse-cluster worker` does it from [http]).
func ExampleConfigure() {
	webhook.Configure(webhook.Config{Secret: []byte("0123456789abcdef0123456789abcdef"), Timeout: 10 * time.Second})
	defer webhook.Configure(webhook.Config{})
	fmt.Println(webhook.Default() != nil)
	// Output: true
}

func ExampleUserAgent() {
	fmt.Println(strings.HasPrefix(webhook.UserAgent(), "glimpse-go/"))
	// Output: true
}

// Every answered call is counted in the latency histogram that a worker's
// metrics export (glimpse_webhook_latency_seconds).
func ExampleLatency() {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer receiver.Close()
	c := webhook.NewClient(webhook.Config{})
	defer c.CloseIdleConnections()
	before := webhook.Latency().Count
	c.Deliver(context.Background(), webhook.Request{URL: receiver.URL})
	fmt.Println(webhook.Latency().Count - before)
	// Output: 1
}
