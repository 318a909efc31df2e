package pool_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/pool"
)

// Reducers are registered once, at package level, like functions: the
// map step, the combine that folds a result into a chunk's accumulator on
// the worker, and the merge of two chunks' accumulators on the client.
var (
	SumOfCubes = pool.RegisterReducer("doc.sumofcubes",
		func(_ context.Context, x int64) (int64, error) { return x * x * x, nil },
		func(acc, cube int64) int64 { return acc + cube },
		func(a, b int64) int64 { return a + b })

	// Join is not commutative: the order of the items is kept.
	Join = pool.RegisterReducer("doc.join",
		func(_ context.Context, s string) (string, error) { return strings.ToUpper(s), nil },
		func(acc, s string) string { return acc + s },
		func(a, b string) string { return a + b })

	// LetterCounts is a keyed reduce: each worker counts its chunk's
	// letters in one table, which is all it sends back.
	LetterCounts = pool.RegisterKeyed("doc.lettercounts",
		func(_ context.Context, word string, emit func(string, int)) error {
			for _, r := range word {
				emit(string(r), 1)
			}
			return nil
		},
		func(a, b int) int { return a + b })
)

func ExampleReduce() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	items := make([]int64, 1000)
	for i := range items {
		items[i] = int64(i + 1)
	}
	sum, err := pool.Reduce(ctx, local.Pool(), SumOfCubes, items, pool.Chunksize(100))
	fmt.Println(sum, err)

	joined, err := pool.Reduce(ctx, local.Pool(), Join, strings.Fields("map on the workers , reduce on the workers"), pool.Chunksize(2))
	fmt.Println(joined, err)
	// Output:
	// 250500250000 <nil>
	// MAPONTHEWORKERS,REDUCEONTHEWORKERS <nil>
}

func ExampleReduceSeq() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// A stream of any length: memory stays bounded by the window.
	upTo := func(n int64) func(func(int64) bool) {
		return func(yield func(int64) bool) {
			for i := int64(1); i <= n; i++ {
				if !yield(i) {
					return
				}
			}
		}
	}
	sum, err := pool.ReduceSeq(ctx, local.Pool(), SumOfCubes, upTo(10_000))
	fmt.Println(sum, err)
	// Output:
	// 2500500025000000 <nil>
}

func ExampleReduceByKey() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	counts, err := pool.ReduceByKey(ctx, local.Pool(), LetterCounts, []string{"banana", "bandana", "cabana"})
	fmt.Println(counts["a"], counts["n"], len(counts), err)
	// Output:
	// 9 5 5 <nil>
}

func ExampleReduceByKeySeq() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	words := func(yield func(string) bool) {
		for _, w := range []string{"abba", "cab", "dab"} {
			if !yield(w) {
				return
			}
		}
	}
	counts, err := pool.ReduceByKeySeq(ctx, local.Pool(), LetterCounts, words)
	if err != nil {
		log.Fatal(err)
	}
	for letter, n := range pool.SortedByKey(counts) {
		fmt.Println(letter, n)
	}
	// Output:
	// a 4
	// b 4
	// c 1
	// d 1
}

func ExampleSortedByKey() {
	counts := map[string]int{"reduce": 2, "map": 3, "chunk": 1}
	for key, n := range pool.SortedByKey(counts) {
		fmt.Println(key, n)
	}
	// Output:
	// chunk 1
	// map 3
	// reduce 2
}

func ExampleRegisterReducer() {
	// SumOfCubes is registered at package level, above. Its chunks carry
	// In's shape and the fold's, which a worker checks against its own.
	in, fold := SumOfCubes.Shapes()
	fmt.Println(SumOfCubes.Name(), in, "|", fold)
	// Output:
	// doc.sumofcubes int64 | fold int64 into int64
}

func ExampleRegisterKeyed() {
	// LetterCounts is registered at package level, above; pool.ReduceByKey
	// runs it (see ExampleReduceByKey).
	fmt.Println(LetterCounts.Name())
	// Output:
	// doc.lettercounts
}

func ExampleKeyedReducer_Shapes() {
	// A keyed reduce's chunks carry In's shape and the fold's: the pairs
	// it emits, folded into the table a chunk sends back.
	in, fold := LetterCounts.Shapes()
	fmt.Println(in, "|", fold)
	// Output:
	// string | fold struct,as_array{string; int} into map[string]int
}
