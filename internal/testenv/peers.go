package testenv

import (
	"net"
	"sync"
	"syscall"
	"testing"

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
