package lifecycle_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/glimpse-go/glimpse/internal/lifecycle"
)

// ticker is a toy service: Run counts until Shutdown, which lets it
// finish the tick in hand.
type ticker struct {
	life  lifecycle.Lifecycle
	group lifecycle.Group
	ticks chan int
}

var errTickerClosed = fmt.Errorf("ticker %w", lifecycle.ErrClosed)

func (t *ticker) Run() error {
	if err := t.life.Begin(); err != nil {
		return fmt.Errorf("ticker: %w", err)
	}
	defer t.life.End()
	t.group.Go(func() {
		for i := 1; ; i++ {
			select {
			case t.ticks <- i:
			case <-t.life.Context().Done():
				return
			}
		}
	})
	<-t.life.Context().Done()
	return errTickerClosed
}

func (t *ticker) Shutdown(ctx context.Context) error {
	t.life.Stop()
	defer t.life.Cancel()
	t.group.Close()
	return t.group.Wait(ctx)
}

func Example() {
	t := &ticker{ticks: make(chan int)}
	ran := make(chan error)
	go func() { ran <- t.Run() }()
	fmt.Println(<-t.ticks, <-t.ticks)

	// Only one Run at a time.
	<-t.ticks // Run has begun
	fmt.Println(t.Run())

	fmt.Println(t.Shutdown(context.Background()))
	err := <-ran
	fmt.Println(err, errors.Is(err, lifecycle.ErrClosed))
	fmt.Println(t.Run())
	// Output:
	// 1 2
	// ticker: already running
	// <nil>
	// ticker closed true
	// ticker: closed
}
