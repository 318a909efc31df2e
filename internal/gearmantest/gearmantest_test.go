package gearmantest_test

import (
	"context"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/gearmantest"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

func TestFunctionStatus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addr := testenv.Gearmand(t).Addr()
	st, err := gearmantest.FunctionStatus(ctx, addr, "nobody")
	if err != nil || st != (gearman.FunctionStatus{Name: "nobody"}) {
		t.Fatalf("unknown function: %+v, %v", st, err)
	}
	c, err := gearman.NewClient(ctx, []string{addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.SubmitBackground(ctx, "queued", []byte("x")); err != nil {
		t.Fatal(err)
	}
	st, err = gearmantest.FunctionStatus(ctx, addr, "queued")
	if err != nil || st.Queued != 1 || st.Running != 0 || st.Workers != 0 {
		t.Fatalf("a queued background job: %+v, %v", st, err)
	}
	if _, err := gearmantest.FunctionStatus(ctx, "127.0.0.1:1", "x"); err == nil {
		t.Fatal("no error from a closed port")
	}
}
