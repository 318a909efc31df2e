package broker

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/testenv"
)

// TestBoundPeers: with no broker, a client binds both channels and workers
// connect to it. A worker that joins late is seen joining (Subscriptions
// rises), so that the client can send it what it missed.
func TestBoundPeers(t *testing.T) {
	ctx := testenv.ContextWithin(t, time.Minute)
	cmds, err := BindPublisher("tcp://127.0.0.1:*")
	if err != nil {
		t.Fatal(err)
	}
	defer cmds.Close()
	logs, err := BindSubscriber("tcp://127.0.0.1:*", "log.")
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	if strings.HasSuffix(cmds.URL(), ":*") || strings.HasSuffix(logs.URL(), ":*") {
		t.Fatalf("URL() = %s, %s; want the bound ports", cmds.URL(), logs.URL())
	}

	w1 := newSubscriber(t, cmds.URL(), "cmd")
	waitSubscribed(t, ctx, cmds, "cmd")
	if n := cmds.Subscriptions("cmd"); n != 1 {
		t.Fatalf("Subscriptions = %d after one worker joined, want 1", n)
	}
	if err := cmds.Send("cmd", []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if topic, parts := recv(t, ctx, w1); topic != "cmd" || string(parts[0]) != "ping" {
		t.Fatalf("worker 1 got %q %q", topic, parts)
	}
	w2 := newSubscriber(t, cmds.URL(), "cmd")
	eventually(t, "the second worker's subscription", func() bool { return cmds.Subscriptions("cmd") == 2 })
	if err := cmds.Send("cmd", []byte("again")); err != nil {
		t.Fatal(err)
	}
	for i, w := range []*Subscriber{w1, w2} {
		if topic, parts := recv(t, ctx, w); topic != "cmd" || string(parts[0]) != "again" {
			t.Fatalf("worker %d got %q %q", i+1, topic, parts)
		}
	}

	// The log channel the other way: a worker's publisher connects to
	// the client's subscriber and receives its subscription, which the
	// subscriber sends only while in use: it sits in Recv, as a client
	// following the logs does.
	got := make(chan string, 1)
	go func() {
		topic, parts, err := logs.Recv(ctx)
		if err != nil || len(parts) != 1 {
			got <- fmt.Sprintf("error %v, parts %q", err, parts)
			return
		}
		got <- topic + " " + string(parts[0])
	}()
	wlog := newPublisher(t, logs.URL())
	waitSubscribed(t, ctx, wlog, "log.w1")
	if err := wlog.Send("log.w1", []byte("started")); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "log.w1 started" {
		t.Fatalf("client got %s", s)
	}
}

// TestBindAddrInUse: a second client binding a channel that one holds gets
// ErrAddrInUse, for either kind of peer, and nothing stays open.
func TestBindAddrInUse(t *testing.T) {
	first, err := BindSubscriber("tcp://127.0.0.1:*")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if s, err := BindSubscriber(first.URL()); !errors.Is(err, ErrAddrInUse) || !strings.Contains(err.Error(), first.URL()) {
		if s != nil {
			s.Close()
		}
		t.Errorf("second BindSubscriber: %v; want ErrAddrInUse naming %s", err, first.URL())
	}
	if p, err := BindPublisher(first.URL()); !errors.Is(err, ErrAddrInUse) {
		if p != nil {
			p.Close()
		}
		t.Errorf("BindPublisher on a held port: %v; want ErrAddrInUse", err)
	}
	// ZeroMQ would replace a held ipc socket file rather than fail.
	ipc := "ipc://" + filepath.Join(t.TempDir(), "log")
	held, err := BindSubscriber(ipc)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if s, err := BindSubscriber(ipc); !errors.Is(err, ErrAddrInUse) {
		if s != nil {
			s.Close()
		}
		t.Errorf("second BindSubscriber on %s: %v; want ErrAddrInUse", ipc, err)
	}
	if _, err := BindPublisher("tcp://192.0.2.1:9000"); err == nil || errors.Is(err, ErrAddrInUse) {
		t.Errorf("BindPublisher on an address of no interface here: %v; want another error", err)
	}
}
