package webhook_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/webhook"
)

// TestMiyamotoListener is Miyamoto README's receiver, `nc -l 9099`: a
// bare TCP listener that reads the call and never answers. It gets
// "POST /worker" with the params form-encoded and the task id in
// X-Task-Id; the call, unanswered, ends as a (retryable) timeout.
func TestMiyamotoListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan *http.Request, 1)
	body := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			close(got)
			return
		}
		defer conn.Close()
		req, err := http.ReadRequest(bufio.NewReader(conn))
		if err != nil {
			close(got)
			return
		}
		b, _ := io.ReadAll(req.Body)
		got <- req
		body <- string(b)
		io.Copy(io.Discard, conn) // like nc: hold the connection, answer nothing
	}()
	c := newClient(t, webhook.Config{})
	_, err = c.Deliver(testenv.Context(t), webhook.Request{URL: "http://" + ln.Addr().String() + "/worker",
		Params: map[string][]string{"foo": {"bar"}}, TaskID: "7e998f34-bed7-44f4-80cd-49620b0ab562", Timeout: 500 * time.Millisecond})
	if !errors.Is(err, webhook.ErrTimeout) {
		t.Errorf("unanswered call: %v, want ErrTimeout", err)
	}
	req := <-got
	if req == nil {
		t.Fatal("the listener read no HTTP request")
	}
	if b := <-body; req.Method != "POST" || req.URL.Path != "/worker" || b != "foo=bar" ||
		req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
		req.Header.Get("X-Task-Id") != "7e998f34-bed7-44f4-80cd-49620b0ab562" {
		t.Errorf("listener saw %s %s %v %q", req.Method, req.URL.Path, req.Header, b)
	}
}
