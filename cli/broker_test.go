package cli

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// brokerConfig writes a config file whose [server] binds the given
// loopback ports and whose [client] connects to them.
func brokerConfig(t *testing.T, ports ...int) (path string, client config.Client) {
	t.Helper()
	var urls []string
	for _, p := range ports {
		urls = append(urls, "tcp://127.0.0.1:"+strconv.Itoa(p))
	}
	keys := []string{"command_frontend_url", "command_backend_url", "log_frontend_url", "log_backend_url"}
	var server, clientSec []string
	for i, k := range keys {
		server = append(server, k+" = "+urls[i])
		clientSec = append(clientSec, k+" = "+urls[i])
	}
	// The job server is never dialled by the broker.
	path = writeConfig(t, []string{"127.0.0.1:4730"}, append(clientSec, append([]string{"[server]"}, server...)...)...)
	f, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, f.Client
}

// TestBrokerCommand runs "glimpse-cluster broker" as a process, sends
// through both channels, and stops it with SIGTERM: it exits 0 within a
// second and prints what it forwarded.
func TestBrokerCommand(t *testing.T) {
	ctx := testenv.Context(t)
	ports := []int{testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)}
	path, cc := brokerConfig(t, ports...)
	p := startProc(t, "-c", path, "LaunchBroker")
	p.stderr.WaitFor(t, ctx, "broker serving", p.done)
	if n := strings.Count(p.stderr.String(), "no cluster key"); n != 1 {
		t.Errorf("a broker without key_file warned %d times that it has no key, want once:\n%s", n, p.stderr)
	}
	for _, u := range []string{cc.CommandFrontendURL, cc.CommandBackendURL, cc.LogFrontendURL, cc.LogBackendURL} {
		if !strings.Contains(p.stderr.String(), u) {
			t.Errorf("the log does not name the bound endpoint %s:\n%s", u, p.stderr)
		}
	}

	sendThroughBroker(t, ctx, cc)

	start := time.Now()
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, ctx); code != exitOK {
		t.Fatalf("exit status %d, want 0", code)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v to stop, want under a second", d)
	}
	out := p.stdout.String()
	// Each channel forwarded one message of 5+5 bytes plus the topic.
	for _, want := range []string{"CHANNEL", "command  commands       1         13", "log      logs           1         16"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout does not contain %q:\n%s", want, out)
		}
	}
	// The ports are free again.
	for _, port := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Errorf("port %d still bound: %v", port, err)
			continue
		}
		l.Close()
	}
}

// sendThroughBroker sends one message through each channel of the broker
// at cc's URLs and checks that it arrives.
func sendThroughBroker(t *testing.T, ctx context.Context, cc config.Client) {
	t.Helper()
	for _, ch := range []struct{ front, back, topic string }{
		{cc.CommandFrontendURL, cc.CommandBackendURL, "cmd"},
		{cc.LogFrontendURL, cc.LogBackendURL, "log.w1"},
	} {
		sub, err := broker.NewSubscriber(ch.back, ch.topic)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		pub, err := broker.NewPublisher(ch.front)
		if err != nil {
			t.Fatal(err)
		}
		defer pub.Close()
		if err := pub.WaitSubscribed(ctx, ch.topic); err != nil {
			t.Fatal(err)
		}
		if err := pub.Send(ch.topic, []byte("hello"), []byte("world")); err != nil {
			t.Fatal(err)
		}
		topic, parts, err := sub.Recv(ctx)
		if err != nil || topic != ch.topic || len(parts) != 2 || string(parts[0]) != "hello" || string(parts[1]) != "world" {
			t.Fatalf("got %q %q, error %v", topic, parts, err)
		}
	}
}

func TestBrokerCommandErrors(t *testing.T) {
	noServer := writeConfig(t, []string{"127.0.0.1:4730"})
	code, stdout, stderr := runCLI(t, "-c", noServer, "broker")
	if code != exitUsage || stdout != "" || !strings.Contains(stderr, noServer+": [server]: missing") {
		t.Errorf("no [server]: exit status %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	blocker, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close()
	busy := blocker.Addr().(*net.TCPAddr).Port
	path, _ := brokerConfig(t, testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), busy)
	code, _, stderr = runCLI(t, "broker", "-c", path)
	want := "bind log_backend_url tcp://127.0.0.1:" + strconv.Itoa(busy)
	if code != exitFailure || !strings.Contains(stderr, want) {
		t.Errorf("port in use: exit status %d, stderr %q; want 1 and %q", code, stderr, want)
	}

	missing := filepath.Join(t.TempDir(), "none.ini")
	t.Setenv(config.EnvVar, "")
	if code, _, stderr := runCLI(t, "-c", missing, "broker"); code != exitUsage || !strings.Contains(stderr, missing) {
		t.Errorf("missing file: exit status %d, stderr %q", code, stderr)
	}
}

func TestBrokerCommandHelp(t *testing.T) {
	for _, args := range [][]string{{"broker", "-h"}, {"LaunchBroker", "-h"}, {"help", "broker"}} {
		code, stdout, stderr := runCLI(t, args...)
		if code != exitOK || stderr != "" {
			t.Errorf("%v: exit status %d, stderr %q", args, code, stderr)
		}
		for _, want := range []string{"Usage: glimpse-cluster [-c FILE] broker", "command_frontend_url", "log_backend_url", "SIGTERM", "Alias: LaunchBroker", "-c FILE"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%v: help does not contain %q:\n%s", args, want, stdout)
			}
		}
	}
	if code, stdout, _ := runCLI(t, "help"); code != exitOK || !strings.Contains(stdout, "broker (LaunchBroker)") {
		t.Errorf("the command list does not show broker:\n%s", stdout)
	}
}
