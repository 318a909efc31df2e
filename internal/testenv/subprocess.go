package testenv

import (
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// Subprocess starts the test binary again as a child that runs no test,
// with env added to its environment: the package's TestMain sees the
// variable and plays a worker (or whatever the test needs) instead. It
// returns the child and its stdout; stderr goes to ours. The test's
// cleanup kills and reaps the child, and the kernel kills it if the test
// binary dies.
func Subprocess(t testing.TB, env ...string) (*exec.Cmd, io.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start a child of the test binary: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, out
}
