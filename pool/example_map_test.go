package pool_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"slices"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/pool"
)

func ExampleImapUnordered() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// Results come as their chunks complete, each with its input index.
	got := make([]string, 0, 5)
	for r, err := range pool.ImapUnordered(ctx, local.Pool(), Cube, slices.Values([]int{1, 2, 3, 4, 5})) {
		if err != nil {
			log.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%d", r.Index, r.Value))
	}
	slices.Sort(got) // the completion order varies from run to run
	fmt.Println(got)
	// Output: [0:1 1:8 2:27 3:64 4:125]
}

func ExampleBackupTasks() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// The last slow chunks run a second time on idle slots; the first copy
	// to succeed gives the results, which are the same whichever it is.
	cubes, err := pool.Map(ctx, local.Pool(), Cube, []int{1, 2, 3, 4, 5, 6}, pool.Chunksize(1), pool.BackupTasks())
	fmt.Println(cubes, err)
	// Output: [1 8 27 64 125 216] <nil>
}

func ExamplePool_Ping() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2) // one worker process with two slots
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stats, err := local.Pool().Ping(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range stats {
		fmt.Println("slots:", s.Slots, "serves doc.cube:", slices.Contains(s.Functions, Cube.Name()))
	}
	fmt.Println("workers:", len(stats))
	// Output:
	// slots: 2 serves doc.cube: true
	// workers: 1
}

func ExamplePool_Broadcast() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// Every worker answers; one that could not be reached has Error set.
	replies, err := local.Pool().Broadcast(ctx, pool.NewCommand(pool.CommandPing, 10*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range replies {
		fmt.Printf("%s: error %q, stats: %v\n", r.Name, r.Error, r.Stats != nil)
	}
	// Output: ping: error "", stats: true
}

func ExamplePool_WorkerSlots() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	slots, err := local.Pool().WorkerSlots(ctx, Cube.Name())
	fmt.Println(slots, err)
	_, err = local.Pool().WorkerSlots(ctx, "doc.nobody-serves-this")
	fmt.Println(errors.Is(err, pool.ErrNoWorkers))
	// Output:
	// 2 <nil>
	// true
}

func ExampleNew() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// A second Pool on the same job servers, as a client program makes
	// one from its configuration.
	p, err := pool.New(local.Config(), pool.WithDialTimeout(2*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	cubes, err := pool.Map(ctx, p, Cube, []int{2, 3})
	fmt.Println(cubes, err)
	// Output: [8 27] <nil>
}

func ExampleChunkFailedError() {
	// A chunk whose attempts all failed for a reason that is not its
	// function's; errors.As gives the chunk, errors.Is the cause.
	var err error = &pool.ChunkFailedError{Func: "doc.cube", Chunk: 3, First: 30, Last: 39, Attempts: 4,
		Err: errors.New("connection lost")}
	var cf *pool.ChunkFailedError
	if errors.As(err, &cf) {
		fmt.Printf("%s: items %d-%d, %d attempts\n", cf.Func, cf.First, cf.Last, cf.Attempts)
	}
	fmt.Println(err)
	// Output:
	// doc.cube: items 30-39, 4 attempts
	// pool: doc.cube: chunk 3 (items 30-39) failed 4 times: connection lost
}

func ExampleCrashLoopError() {
	var err error = &pool.CrashLoopError{Func: "doc.cube", Chunk: 0, First: 0, Last: 9, Workers: []string{"w1", "w2", "w3"}}
	var cl *pool.CrashLoopError
	fmt.Println(errors.Is(err, pool.ErrCrashLoop), errors.As(err, &cl), len(cl.Workers))
	// Output: true true 3
}

func ExampleForgedResultError() {
	// A chunk's answer that failed the cluster key check: a worker
	// without the key took the chunk. errors.Is finds ErrForgedResult;
	// errors.As gives where the answer came from.
	var err error = &pool.ForgedResultError{Func: "doc.cube", Chunk: 3, First: 30, Last: 39,
		Server: "10.0.0.5:4730", Handle: "H:gm1:17", Attempts: 65, Reason: errors.New("auth: result refused: not signed")}
	var fe *pool.ForgedResultError
	fmt.Println(errors.Is(err, pool.ErrForgedResult), errors.As(err, &fe), fe.Server, fe.Attempts)
	fmt.Println(err)
	// Output:
	// true true 10.0.0.5:4730 65
	// pool: doc.cube: chunk 3 (items 30-39): 65 answers failed the cluster key check; the last, from job server 10.0.0.5:4730 (job H:gm1:17): auth: result refused: not signed: a worker without this cluster key (a rogue one, or one without key_file) answered it
}
