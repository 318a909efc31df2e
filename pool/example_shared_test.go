package pool_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/pool"
)

// Translate takes, besides each word, a dictionary shared by every item
// of a map: the dictionary goes to each worker once, not with every chunk.
var Translate = pool.RegisterWith("doc.translate", func(_ context.Context, dict map[string]string, word string) (string, error) {
	if t, ok := dict[word]; ok {
		return t, nil
	}
	return strings.ToUpper(word), nil
})

func ExampleRegisterWith() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	dict := map[string]string{"chat": "cat", "chien": "dog"}
	// With binds the shared value; the Func it returns maps like any
	// other. Reuse it for several maps: the value is encoded once, and
	// workers keep it by its content hash.
	translate := Translate.With(dict)
	words, err := pool.Map(ctx, local.Pool(), translate, []string{"chat", "chien", "oiseau"})
	fmt.Println(words, err)
	// Output: [cat dog OISEAU] <nil>
}

func ExampleFuncWith_Shapes() {
	// The shared value's type is checked with In and Out: a worker whose
	// function takes another refuses the chunks with a
	// *pool.TypeMismatchError.
	shared, in, out := Translate.Shapes()
	fmt.Println(shared, in, out)
	fmt.Println(Translate.With(nil).Shapes())
	// Output:
	// map[string]string string string
	// shared(map[string]string) string string
}

func ExampleSharedValueTooLargeError() {
	// A shared value travels in one job, so it must fit the pool's packet
	// limit (and gearmand's 64 MiB): a larger one fails the map at once.
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	p, err := pool.New(local.Config(), pool.WithMaxPacketSize(1<<20))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	huge := map[string]string{"text": strings.Repeat("x", 2<<20)}
	_, err = pool.Map(ctx, p, Translate.With(huge), []string{"chat"})
	var tl *pool.SharedValueTooLargeError
	fmt.Println(errors.As(err, &tl), tl.Func, tl.Size > tl.Max)
	// Output: true doc.translate true
}
