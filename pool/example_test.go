package pool_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"math"
	"net"
	"os"
	"time"

	"github.com/glimpse-go/glimpse/cluster"
	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/pool"
)

// Functions are registered once, at package level, in a package that the
// client program and the worker binary both import.
var Cube = pool.Register("doc.cube", func(_ context.Context, x int) (int, error) {
	if x < 0 {
		return 0, fmt.Errorf("negative input %d", x)
	}
	return x * x * x, nil
})

func ExampleMap() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2) // or pool.FromConfigFile("config.ini")
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	cubes, err := pool.Map(ctx, local.Pool(), Cube, []int{1, 2, 3, 4})
	fmt.Println(cubes, err)

	_, err = pool.Map(ctx, local.Pool(), Cube, []int{1, -2, 3})
	var te *pool.TaskError
	if errors.As(err, &te) {
		fmt.Printf("item %d: %s\n", te.Index, te.Message)
	}
	// Output:
	// [1 8 27 64] <nil>
	// item 1: negative input -2
}

func ExampleImap() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// The input is read lazily and the results stream in input order.
	numbers := func(yield func(int) bool) {
		for i := 1; i <= 5; i++ {
			if !yield(i) {
				return
			}
		}
	}
	for cube, err := range pool.Imap(ctx, local.Pool(), Cube, numbers) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Print(cube, " ")
	}
	fmt.Println()
	// Output: 1 8 27 64 125
}

// ErrNegative keeps its identity across the wire: it is declared, like the
// functions, in a package that the client and the worker both import.
var ErrNegative = pool.RegisterError("doc.negative", errors.New("negative input"))

var Root = pool.Register("doc.root", func(_ context.Context, x float64) (float64, error) {
	if x < 0 {
		return 0, fmt.Errorf("root of %v: %w", x, ErrNegative)
	}
	return math.Sqrt(x), nil
})

func ExampleRegisterError() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	_, err = pool.Map(ctx, local.Pool(), Root, []float64{4, -1, 9})
	fmt.Println(errors.Is(err, ErrNegative))
	var te *pool.TaskError
	if errors.As(err, &te) {
		fmt.Printf("item %d: %s (%s)\n", te.Index, te.Message, te.Code)
	}
	// Output:
	// true
	// item 1: root of -1: negative input (doc.negative)
}

// Point is the In of Distance: a struct travels as a map of its msgpack
// field names.
type Point struct {
	X, Y  float64
	Label string `msgpack:"label,omitempty"`
}

var Distance = pool.Register("doc.distance", func(_ context.Context, p Point) (float64, error) {
	return math.Hypot(p.X, p.Y), nil
})

func ExampleFunc_Shapes() {
	// A worker refuses a chunk whose shapes are not its own, with a
	// *pool.TypeMismatchError naming both, before it runs any item.
	in, out := Distance.Shapes()
	fmt.Println(in)
	fmt.Println(out)
	// Output:
	// struct{X float64; Y float64; label string}
	// float64
}

// Every request to a job server has a bound of its own, whatever the
// caller's context: a server that accepts and never answers fails with a
// *gearman.TimeoutError that names it and what never came.
func ExampleWithRequestTimeout() {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // the kernel accepts; nobody answers
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()

	_, err = pool.New(config.Client{JobServers: []string{ln.Addr().String()}},
		pool.WithRequestTimeout(100*time.Millisecond))
	var te *gearman.TimeoutError
	if errors.As(err, &te) {
		fmt.Printf("no %s within %v\n", te.Waiting, te.After)
	}
	// Output: no OPTION_RES for OPTION_REQ exceptions within 100ms
}

func ExampleWaitForWorkers() {
	ctx := context.Background()
	// A batch job started together with its cluster: the map waits up to
	// a minute for a worker instead of failing with ErrNoWorkers.
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	cubes, err := pool.Map(ctx, local.Pool(), Cube, []int{1, 2, 3}, pool.WaitForWorkers(time.Minute))
	fmt.Println(cubes, err)
	// Output: [1 8 27] <nil>
}

func ExampleProgressBar() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// On a terminal, stderr shows the bar while the map runs:
	//   cubes  60% |██████████      | (600/1000, 5210 items/s) [0s:0s]
	// Redirected to a file or a pipe, it shows nothing.
	items := make([]int, 1000)
	cubes, err := pool.Map(ctx, local.Pool(), Cube, items, pool.ProgressBar(os.Stderr, "cubes"))
	fmt.Println(len(cubes), err)

	// A buffer is no terminal: nothing is written to it.
	var buf bytes.Buffer
	_, err = pool.Map(ctx, local.Pool(), Cube, items, pool.ProgressBar(&buf, "cubes"))
	fmt.Printf("%q %v\n", buf.String(), err)
	// Output:
	// 1000 <nil>
	// "" <nil>
}

func ExampleCall() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// One item, one Gearman job, with a map's options.
	cube, err := pool.Call(ctx, local.Pool(), Cube, 3, pool.Priority(pool.High))
	fmt.Println(cube, err)

	// A failing function is a *TaskError, as in a map (of item 0).
	_, err = pool.Call(ctx, local.Pool(), Cube, -2)
	var te *pool.TaskError
	if errors.As(err, &te) {
		fmt.Printf("item %d: %s\n", te.Index, te.Message)
	}
	// Output:
	// 27 <nil>
	// item 0: negative input -2
}

func ExampleGo() {
	ctx := context.Background()
	local, err := cluster.StartLocal(ctx, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()

	// Calls in flight at once; each future holds its own result.
	var futures []*pool.Future[int]
	for x := 1; x <= 4; x++ {
		futures = append(futures, pool.Go(ctx, local.Pool(), Cube, x))
	}
	for _, f := range futures {
		cube, err := f.Wait(ctx)
		fmt.Println(cube, err)
	}

	// Done is a channel, for a select.
	f := pool.Go(ctx, local.Pool(), Cube, 5)
	select {
	case <-f.Done():
		fmt.Println(f.Wait(ctx))
	case <-time.After(time.Minute):
		fmt.Println("no answer within a minute")
	}
	// Output:
	// 1 <nil>
	// 8 <nil>
	// 27 <nil>
	// 64 <nil>
	// 125 <nil>
}
