// Command wordcount is a map/reduce with the reduce on the workers
// (pool.ReduceByKeySeq): each worker counts the words of its chunk of
// files into one table and sends only that back, and this program adds
// the tables up.
//
//	go run ./examples/wordcount [-c config.ini] [-top 10] FILE...
//
// With no files it counts its own Go sources.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/examples/internal/demo"
	"github.com/glimpse-go/glimpse/pool"
)

func main() {
	top := flag.Int("top", 10, "how many words to print")
	demo.Main(func(ctx context.Context, p *pool.Pool) error {
		files := flag.Args()
		if len(files) == 0 {
			files, _ = filepath.Glob("*/*.go")
		}
		return run(ctx, p, files, *top)
	})
}

func run(ctx context.Context, p *pool.Pool, files []string, top int) error {
	// Files are read lazily, as Imap asks for them.
	texts := func(yield func(string) bool) {
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				log.Printf("skipping %s: %v", f, err)
				continue
			}
			if !yield(string(data)) {
				return
			}
		}
	}
	total, err := pool.ReduceByKeySeq(ctx, p, funcs.WordCounts, texts, pool.ProgressBar(os.Stderr, "files"))
	if err != nil {
		return err
	}
	words := slices.SortedFunc(maps.Keys(total), func(a, b string) int {
		return cmp.Or(cmp.Compare(total[b], total[a]), cmp.Compare(a, b))
	})
	fmt.Printf("%d files, %d distinct words\n", len(files), len(words))
	for _, w := range words[:min(top, len(words))] {
		fmt.Printf("%8d %s\n", total[w], w)
	}
	return nil
}
