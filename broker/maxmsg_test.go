package broker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// brokerChildEnv makes the test binary a broker (see TestMain), so that a
// test can read the broker's memory apart from its own.
const brokerChildEnv = "GLIMPSE_BROKER_TEST_CHILD"

// runBrokerChild serves a broker on free loopback ports, prints its
// command frontend and backend URLs on one line, and serves until killed.
func runBrokerChild() {
	b, err := New(ephemeral)
	if err != nil {
		fmt.Fprintln(os.Stderr, "broker child:", err)
		os.Exit(2)
	}
	a := b.Addrs()
	fmt.Println(a.CommandFrontendURL, a.CommandBackendURL)
	b.Serve()
}

// startBrokerChild starts a broker in a child process and returns its pid
// and its command channel's URLs.
func startBrokerChild(t *testing.T) (pid int, addrs config.Server) {
	t.Helper()
	cmd, out := testenv.Subprocess(t, brokerChildEnv+"=1")
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("read the broker child's URLs: %v", err)
	}
	f := strings.Fields(line)
	if len(f) != 2 {
		t.Fatalf("broker child printed %q, want two URLs", line)
	}
	return cmd.Process.Pid, config.Server{CommandFrontendURL: f[0], CommandBackendURL: f[1]}
}

// TestOversizeMessageRefused sends a 64 MB command to a broker running in
// its own process: the broker must drop the sender's connection before it
// allocates the message (its peak memory stays far below 64 MB), the
// message must reach no subscriber, and the sender's next, normal
// messages must still go through once it has reconnected.
func TestOversizeMessageRefused(t *testing.T) {
	const huge = 64 << 20
	pid, a := startBrokerChild(t)
	ctx := testenv.ContextWithin(t, 20*time.Second)
	sub := newSubscriber(t, a.CommandBackendURL, "cmd")
	pub := newPublisher(t, a.CommandFrontendURL)
	waitSubscribed(t, ctx, pub, "cmd")

	if err := pub.Send("cmd", make([]byte, huge)); err != nil {
		t.Fatal(err)
	}
	// Until the small message comes through, send it again: the first
	// ones are dropped while the broker has disconnected the publisher.
	var got [][]byte
	for got == nil {
		if err := pub.Send("cmd", []byte("after")); err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_, parts, err := sub.Recv(rctx)
		cancel()
		switch {
		case err == nil && len(parts) == 1 && len(parts[0]) == huge:
			t.Fatalf("the broker forwarded the %d-byte message", huge)
		case err == nil:
			got = parts
		case !errors.Is(err, context.DeadlineExceeded):
			t.Fatal(err)
		case ctx.Err() != nil:
			t.Fatal("no normal message went through after the oversize one")
		}
	}
	if len(got) != 1 || string(got[0]) != "after" {
		t.Errorf("got %q, want [after]", got)
	}
	if hwm := testenv.PeakRSS(t, pid); hwm > huge/2 {
		t.Errorf("the broker's peak RSS is %d MB after a %d MB message, want under %d MB", hwm>>20, huge>>20, huge>>21)
	} else {
		t.Logf("broker peak RSS %d MB", hwm>>20)
	}
}
