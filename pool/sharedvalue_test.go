package pool_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/pool"
)

var sharedScale = pool.RegisterWith("test.shared.scale", func(_ context.Context, table []byte, i int) (int, error) {
	return len(table) * i, nil
})

// TestSharedValueTooLarge: a shared value that cannot travel in one job
// (over the pool's packet limit) fails the map at once with a
// *SharedValueTooLargeError naming the function, the value's size and the
// limit, before any chunk is sent: no worker serves the function, and the
// map does not wait for one.
func TestSharedValueTooLarge(t *testing.T) {
	addr := gearmand(t)
	p, err := pool.New(config.Client{JobServers: []string{addr}}, pool.WithMaxPacketSize(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = pool.Map(testenv.Context(t), p, sharedScale.With(make([]byte, 2<<20)), []int{1, 2}, pool.WaitForWorkers(time.Minute))
	var tl *pool.SharedValueTooLargeError
	if !errors.As(err, &tl) {
		t.Fatalf("map of a 2 MiB shared value with a 1 MiB packet limit: %v; want a *pool.SharedValueTooLargeError", err)
	}
	if tl.Func != sharedScale.Name() || tl.Size < 2<<20 || tl.Max >= 1<<20 || !strings.Contains(err.Error(), "shared value encodes to") {
		t.Errorf("error %+v: %v", tl, err)
	}
}

// TestSharedValueCallsLocally: Call runs the function here with the bound
// value, whether through the FuncWith or the Func that With returns.
func TestSharedValueCallsLocally(t *testing.T) {
	ctx := context.Background()
	if got, err := sharedScale.Call(ctx, []byte("abc"), 2); got != 6 || err != nil {
		t.Errorf("FuncWith.Call = %d, %v; want 6", got, err)
	}
	f := sharedScale.With([]byte("abcd"))
	if got, err := f.Call(ctx, 3); got != 12 || err != nil || f.Name() != "test.shared.scale" {
		t.Errorf("With(...).Call = %d, %v (%s); want 12", got, err, f.Name())
	}
	var zero pool.FuncWith[[]byte, int, int]
	if _, err := pool.Map(ctx, nil, zero.With(nil), []int{1}); err == nil {
		t.Error("a map of a zero FuncWith's With: no error")
	}
}
