package pool_test

import (
	"bytes"
	"context"
	"fmt"
	"log"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/pool"
)

func ExampleWithDirectData() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// Items of 1 MiB: on (the default), the workers fetch each chunk from
	// the pool and send its results back to it, and gearmand relays only
	// the jobs; off, gearmand relays every byte, both ways.
	images := [][]byte{bytes.Repeat([]byte{1}, 1<<20), bytes.Repeat([]byte{2}, 1<<20)}
	for _, on := range []bool{true, false} {
		p, err := pool.New(local.Config(), pool.WithDirectData(on))
		if err != nil {
			log.Fatal(err)
		}
		same, err := pool.Map(ctx, p, funcs.Identity, images, pool.Chunksize(2))
		fmt.Println(on, len(same), bytes.Equal(same[1], images[1]), err)
		p.Close()
	}
	// Output:
	// true 2 true <nil>
	// false 2 true <nil>
}

func ExampleWithDirectDataAddress() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// The pool's listener for the direct path binds, and the workers
	// dial, this address (any free port): the address of the client on
	// the network its workers share, on a real cluster.
	p, err := pool.New(local.Config(), pool.WithDirectDataAddress("127.0.0.1"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	same, err := pool.Map(ctx, p, funcs.Identity, [][]byte{bytes.Repeat([]byte{3}, 2<<20)})
	fmt.Println(len(same[0]), err)
	// Output: 2097152 <nil>
}
