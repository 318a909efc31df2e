package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// SilentServer listens on a free loopback port, accepts every connection
// and never sends a byte: a job server that is hung, or a firewall or
// proxy that takes connections for a backend that is gone. It returns the
// "host:port"; t.Cleanup closes the listener and the connections.
func SilentServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: silent server: %v", err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// ZeroMQRouter binds a real ZeroMQ ROUTER socket on a free loopback port
// and returns its "host:port": a peer that speaks another protocol (it
// sends its 10-byte greeting and waits for ours), as when a job server
// address points at the broker by mistake. t.Cleanup closes it.
func ZeroMQRouter(t testing.TB) string {
	t.Helper()
	zctx, err := zmq.NewContext()
	if err != nil {
		t.Fatalf("testenv: zeromq context: %v", err)
	}
	sock, err := zctx.NewSocket(zmq.ROUTER)
	if err == nil {
		err = sock.SetLinger(0)
	}
	if err == nil {
		err = sock.Bind("tcp://127.0.0.1:*")
	}
	var endpoint string
	if err == nil {
		endpoint, err = sock.GetLastEndpoint()
	}
	t.Cleanup(func() {
		if sock != nil {
			sock.Close()
		}
		zctx.Term()
	})
	if err != nil {
		t.Fatalf("testenv: zeromq ROUTER socket: %v", err)
	}
	return endpoint[len("tcp://"):]
}

// Hang stops the process pid with SIGSTOP: its sockets stay open and the
// kernel still completes connections to its listening ports, but it
// answers nothing, as a hung job server does. It returns a func that
// resumes the process (SIGCONT); t.Cleanup resumes it too.
func Hang(t testing.TB, pid int) (resume func()) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("testenv: stop pid %d: %v", pid, err)
	}
	// kill returns once the signal is queued; a thread of the process
	// may still answer a request until it is really stopped. Wait until
	// every thread is, so that what follows meets a hung server.
	if err := waitStopped(pid, 5*time.Second); err != nil {
		t.Fatalf("testenv: stop pid %d: %v", pid, err)
	}
	var once sync.Once
	resume = func() {
		once.Do(func() {
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Errorf("testenv: resume pid %d: %v", pid, err)
			}
		})
	}
	t.Cleanup(resume)
	return resume
}

// waitStopped polls /proc until every thread of pid is in the stopped
// state (T), or the bound passes.
func waitStopped(pid int, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	for {
		running, err := runningThreads(pid)
		if err != nil {
			return err
		}
		if running == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d threads still not stopped after %v", running, bound)
		}
		time.Sleep(time.Millisecond)
	}
}

// runningThreads counts the threads of pid that are not stopped.
func runningThreads(pid int) (int, error) {
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		return 0, fmt.Errorf("no threads listed in /proc for pid %d: %v", pid, err)
	}
	n := 0
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // the thread ended
		}
		// The state follows the command name, which is in parentheses
		// and may hold spaces: read it after the last ')'.
		i := bytes.LastIndexByte(data, ')')
		if i < 0 || i+2 >= len(data) {
			return 0, fmt.Errorf("%s: unreadable", path)
		}
		if st := data[i+2]; st != 'T' && st != 't' {
			n++
		}
	}
	return n, nil
}
