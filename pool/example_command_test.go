package pool_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/glimpse-go/glimpse/pool"
)

func ExampleNewCommand() {
	// A quit for the workers of two hosts, which a worker that starts more
	// than a minute from now will not obey. Pool.Broadcast sends it.
	cmd := pool.NewCommand(pool.CommandQuit, time.Minute, "gpu-host-1", "gpu-host-2")
	fmt.Println(cmd.Name, cmd.Targets, cmd.ID != "", cmd.Expires.Sub(cmd.Sent))
	fmt.Println(cmd.Validate())
	// Output:
	// quit [gpu-host-1 gpu-host-2] true 1m0s
	// <nil>
}

func ExampleCommand_Validate() {
	fmt.Println(pool.NewCommand("reboot", time.Minute).Validate() != nil)
	fmt.Println(pool.Command{Name: pool.CommandPing}.Validate())
	// Output:
	// true
	// pool: command "ping" has no id
}

func ExampleMaxCommandTTL() {
	// Workers remember a command's id until it expires, so that a replay
	// is refused; a command may not claim to live longer than a day.
	fmt.Println(pool.NewCommand(pool.CommandPing, 48*time.Hour).Validate() != nil)
	fmt.Println(pool.NewCommand(pool.CommandPing, time.Hour).Validate())
	// Output:
	// true
	// <nil>
}

func ExampleCommand_Matches() {
	// Targets are worker ids or host names, or globs of them; no targets
	// means every worker.
	cmd := pool.NewCommand(pool.CommandRestart, time.Minute, "batch-*")
	fmt.Println(cmd.Matches("w-1a2b", "batch-07"))
	fmt.Println(cmd.Matches("w-3c4d", "web-01"))
	fmt.Println(pool.NewCommand(pool.CommandRestart, time.Minute).Matches("w-3c4d", "web-01"))
	// Output:
	// true
	// false
	// true
}

func ExampleCommand_Expired() {
	// A worker that receives a command late (it was down, or started after
	// the quit was sent) ignores it.
	cmd := pool.NewCommand(pool.CommandQuit, 30*time.Second)
	fmt.Println(cmd.Expired(cmd.Sent.Add(10 * time.Second)))
	fmt.Println(cmd.Expired(cmd.Sent.Add(time.Minute)))
	// Output:
	// false
	// true
}

func ExampleWorkerStats() {
	// A snapshot as Pool.Ping returns it, one per worker.
	start := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	s := pool.WorkerStats{Host: "batch-07", PID: 4242, WorkerID: "w-1a2b", Slots: 4,
		Start: start, Time: start.Add(90 * time.Second), Requests: 8, Busy: 6 * time.Second}
	fmt.Printf("%s pid %d: %d chunks in %v, %v each\n", s.Host, s.PID, s.Requests, s.Uptime(), s.MeanBusy())
	// Output: batch-07 pid 4242: 8 chunks in 1m30s, 750ms each
}

func ExampleWorkerStats_Uptime() {
	start := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	s := pool.WorkerStats{Start: start, Time: start.Add(2 * time.Hour)}
	fmt.Println(s.Uptime())
	// Output: 2h0m0s
}

func ExampleWorkerStats_MeanBusy() {
	// Busy sums over slots: 4 slots busy for 10s each are 40s of Busy.
	s := pool.WorkerStats{Requests: 16, Busy: 40 * time.Second}
	fmt.Println(s.MeanBusy())
	fmt.Println(pool.WorkerStats{}.MeanBusy()) // before the first chunk
	// Output:
	// 2.5s
	// 0s
}

func ExampleTaskError_Error() {
	// What a map returns when the function fails on an item (see ExampleMap
	// for one from a real cluster).
	err := &pool.TaskError{Func: "doc.cube", Index: 7, Worker: "w-1a2b", Message: "negative input -2"}
	fmt.Println(err)
	// Output: pool: doc.cube item 7 failed on worker w-1a2b: negative input -2
}

func ExampleTaskError_Unwrap() {
	// Through Unwrap, errors.Is finds the declared error that Code names
	// (see ExampleRegisterError), and errors.As a *TypeMismatchError.
	mismatch := &pool.TypeMismatchError{Func: "doc.cube", ClientIn: "int", ClientOut: "int", WorkerIn: "float64", WorkerOut: "float64"}
	var err error = &pool.TaskError{Func: "doc.cube", Index: -1, Message: mismatch.Error(), Mismatch: mismatch}
	var tm *pool.TypeMismatchError
	fmt.Println(errors.As(err, &tm), tm.WorkerIn)

	err = &pool.TaskError{Func: "doc.root", Index: 1, Message: "root of -1: negative input", Code: "doc.negative"}
	fmt.Println(errors.Is(err, ErrNegative))
	// Output:
	// true float64
	// true
}

func ExampleTypeMismatchError_Error() {
	// The worker binary was built against an older package of functions.
	err := &pool.TypeMismatchError{Func: "doc.distance", ClientIn: "struct{X float64; Y float64; label string}",
		ClientOut: "float64", WorkerIn: "struct{X float64; Y float64}", WorkerOut: "float64"}
	fmt.Println(err)
	// Output: type mismatch: the client sends In=struct{X float64; Y float64; label string} and expects Out=float64; this worker registers In=struct{X float64; Y float64} Out=float64
}

func ExampleChunkFailedError_Unwrap() {
	var err error = &pool.ChunkFailedError{Func: "doc.cube", Chunk: 0, First: 0, Last: 9, Attempts: 4,
		Err: pool.ErrNoWorkers}
	fmt.Println(errors.Is(err, pool.ErrNoWorkers))
	// Output: true
}

func ExampleCrashLoopError_Error() {
	err := &pool.CrashLoopError{Func: "doc.cube", Chunk: 2, First: 20, Last: 29, Workers: []string{"w1", "w2", "w3"}}
	fmt.Println(err)
	fmt.Println(errors.Is(err, pool.ErrCrashLoop))
	// Output:
	// pool: doc.cube: chunk 2 (items 20-29) went to 3 workers and none answered: w1, w2 died or vanished running it; an item that crashes its worker process does this (Chunksize(1) tells which): pool: every worker that took the chunk died or vanished
	// true
}

func ExampleChunkFailedError_Error() {
	// The message names the function, the chunk, its items and the cause:
	// enough to rerun those items alone.
	err := &pool.ChunkFailedError{Func: "doc.cube", Chunk: 0, First: 0, Last: 99, Attempts: 3,
		Err: errors.New("worker failure (WORK_FAIL)")}
	fmt.Println(err)
	// Output: pool: doc.cube: chunk 0 (items 0-99) failed 3 times: worker failure (WORK_FAIL)
}

func ExampleCrashLoopError_Unwrap() {
	// A program that only needs to know it was a crash loop, not which
	// chunk, tests for the sentinel.
	var err error = &pool.CrashLoopError{Func: "doc.cube", Workers: []string{"w1", "w2"}}
	fmt.Println(errors.Unwrap(err) == pool.ErrCrashLoop)
	// Output: true
}

func ExampleChunkLostError_Error() {
	// A chunk whose job someone cancelled on the job server's admin port.
	err := &pool.ChunkLostError{Func: "doc.cube", Chunk: 3, First: 30, Last: 39, Server: "10.0.0.5:4730", Handle: "H:gm1:17"}
	fmt.Println(err)
	// Output: pool: doc.cube: chunk 3 (items 30-39) was lost at job server 10.0.0.5:4730: it no longer knows job H:gm1:17 (cancelled there, as by the admin command "cancel job", or dropped)
}
