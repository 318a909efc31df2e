package gearman_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// helperEnv makes the test binary act as a worker process: the value is
// "ADDR FUNC". It serves FUNC by printing "holding HANDLE" and then
// holding the job until killed, so tests can kill a worker mid-job.
const helperEnv = "GEARMAN_TEST_HOLDING_WORKER"

func TestMain(m *testing.M) {
	if v := os.Getenv(helperEnv); v != "" {
		holdingWorker(v)
		return
	}
	goleak.VerifyTestMain(m)
}

func holdingWorker(spec string) {
	addr, fn, _ := strings.Cut(spec, " ")
	w, err := gearman.NewWorker([]string{addr}, gearman.WithConcurrency(1))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	w.Register(fn, func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		fmt.Printf("holding %s\n", j.Handle)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	w.Run()
}

// startHoldingWorker starts a worker process serving fn that holds the
// first job it gets; it returns the process once it holds one.
func startHoldingWorker(t *testing.T, addr, fn string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd, out := testenv.Subprocess(t, helperEnv+"="+addr+" "+fn)
	held := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if h, ok := strings.CutPrefix(sc.Text(), "holding "); ok {
				held <- h
			}
		}
	}()
	return cmd, held
}
