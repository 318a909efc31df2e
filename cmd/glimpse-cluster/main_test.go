package main

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// childEnv makes the test binary run main, that is glimpse-cluster.
const childEnv = "GLIMPSE_CLUSTER_CMD_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestServesExampleFunctions checks the wiring: the example functions are
// linked in and Main runs.
func TestServesExampleFunctions(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "functions")
	cmd.Env = append(os.Environ(), childEnv+"=1", "GORACE=atexit_sleep_ms=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("glimpse-cluster functions: %v\n%s", err, out)
	}
	for _, name := range []string{"examples.square", "examples.hex", "examples.wordcount", "examples.countprimes"} {
		if !strings.Contains(string(out), name+" ") {
			t.Errorf("functions output lacks %s:\n%s", name, out)
		}
	}
}
