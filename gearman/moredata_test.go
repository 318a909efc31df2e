package gearman_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// TestMoreDataAndMoreResult: a job whose data is sent in parts
// (WithMoreData) reaches the worker as the parts put together, byte for
// byte, and a result sent in parts (Job.SetMoreResult: here slices of the
// job's own data, large and small) reaches the client whole; a result set
// in parts and a job that fails send only the error.
func TestMoreDataAndMoreResult(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	startWorker(t, []string{srv.Addr()}, map[string]gearman.JobFunc{
		// The result: "<", then the data's second half, then its first.
		"swap": func(_ context.Context, j *gearman.Job) ([]byte, error) {
			half := len(j.Data) / 2
			j.SetMoreResult(j.Data[half:], j.Data[:half])
			return []byte("<"), nil
		},
		"fail": func(_ context.Context, j *gearman.Job) ([]byte, error) {
			j.SetMoreResult(j.Data)
			return nil, errors.New("failed")
		},
	})
	c := newClient(t, srv.Addr())
	for _, size := range []int{10, 200 << 10, 3 << 20} {
		head := []byte("head:")
		a, b := bytes.Repeat([]byte{'a'}, size), bytes.Repeat([]byte{'b'}, size/3+1)
		task, err := c.Dispatch(ctx, "swap", head, gearman.WithMoreData(a, b))
		if err != nil {
			t.Fatal(err)
		}
		got, err := task.Wait(ctx)
		data := bytes.Join([][]byte{head, a, b}, nil)
		half := len(data) / 2
		want := bytes.Join([][]byte{[]byte("<"), data[half:], data[:half]}, nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%d-byte parts: %d bytes back (%v), want %d", size, len(got), err, len(want))
		}
	}
	if _, err := c.Call(ctx, "fail", bytes.Repeat([]byte{1}, 1<<20)); err == nil || err.Error() == "" {
		t.Fatalf("failing job: %v", err)
	}
	var ex *gearman.JobException
	if _, err := c.Call(ctx, "fail", []byte("x")); !errors.As(err, &ex) || string(ex.Data) != "failed" {
		t.Fatalf("failing job with its result set in parts: %v, want its error alone", err)
	}
}

// TestMoreDataCountsAgainstThePacketLimit: a client refuses a job whose
// data, parts included, is over its packet size limit, before sending it.
func TestMoreDataCountsAgainstThePacketLimit(t *testing.T) {
	srv := testenv.Gearmand(t)
	ctx := testenv.ContextWithin(t, time.Minute)
	c, err := gearman.NewClient(ctx, []string{srv.Addr()}, gearman.WithMaxPacketSize(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Dispatch(ctx, "f", []byte("small"), gearman.WithMoreData(make([]byte, 600<<10), make([]byte, 600<<10)))
	var tooLarge *gearman.PacketTooLargeError
	if !errors.As(err, &tooLarge) || tooLarge.Size < 1200<<10 {
		t.Fatalf("1.2 MB of parts under a 1 MiB limit: %v, want a *PacketTooLargeError counting the parts", err)
	}
}
