package gearman_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
)

// Result after Done: submit a batch, then gather the outcomes as the
// tasks end.
func ExampleTask_Result() {
	srv := exampleServer()
	defer srv.Stop()
	w := exampleWorker(srv.Addr(), "upper", func(_ context.Context, job *gearman.Job) ([]byte, error) {
		if len(job.Data) == 0 {
			return nil, &gearman.JobException{Data: []byte("empty input")}
		}
		return bytes.ToUpper(job.Data), nil
	})
	defer w.Close()
	c := exampleClient(srv.Addr())
	defer c.Close()

	var tasks []*gearman.Task
	for _, in := range []string{"a", "", "c"} {
		t, err := c.Submit(context.Background(), "upper", []byte(in))
		if err != nil {
			log.Fatal(err)
		}
		tasks = append(tasks, t)
	}
	for _, t := range tasks {
		select {
		case <-t.Done():
		case <-time.After(10 * time.Second):
			log.Fatal("no result within 10s")
		}
		out, err := t.Result()
		var ex *gearman.JobException
		if errors.As(err, &ex) {
			fmt.Printf("exception from %s: %s\n", ex.Function, ex.Data)
			continue
		}
		fmt.Println(string(out), err)
	}
	// Output:
	// A <nil>
	// exception from upper: empty input
	// C <nil>
}

// Handle names the job on its server: what Client.Status and
// Admin.CancelJob take.
func ExampleTask_Handle() {
	srv := exampleServer()
	defer srv.Stop()
	c := exampleClient(srv.Addr())
	defer c.Close()

	t, err := c.Submit(context.Background(), "nobody.serves.this", nil)
	if err != nil {
		log.Fatal(err)
	}
	h := t.Handle()
	fmt.Println(h.Server == srv.Addr(), strings.HasPrefix(h.Handle, "H:"))
	// Output: true true
}

func ExampleTimeoutError_Error() {
	err := &gearman.TimeoutError{Server: "10.0.0.5:4730", Waiting: "JOB_CREATED for SUBMIT_JOB resize", After: 10 * time.Second}
	fmt.Println(err)
	// Output: gearman: 10.0.0.5:4730: no JOB_CREATED for SUBMIT_JOB resize within 10s
}

// A *TimeoutError is a net.Error whose Timeout is true, like a network
// deadline, so code that retries timeouts handles it unchanged.
func ExampleTimeoutError_Timeout() {
	var err error = &gearman.TimeoutError{Server: "10.0.0.5:4730", Waiting: "ECHO_RES", After: time.Second}
	var ne net.Error
	fmt.Println(errors.As(err, &ne) && ne.Timeout())
	// Output: true
}

func ExampleTimeoutError_Unwrap() {
	var err error = &gearman.TimeoutError{Server: "10.0.0.5:4730", Waiting: "ECHO_RES", After: time.Second}
	fmt.Println(errors.Is(err, os.ErrDeadlineExceeded))
	// Output: true
}

func ExampleAdminError_Error() {
	// As gearmand answers "cancel job H:nosuch:1".
	err := &gearman.AdminError{Command: "cancel job H:nosuch:1", Code: "UNKNOWN_JOB", Message: "Unknown job"}
	fmt.Println(err)
	// Output: gearman: admin "cancel job H:nosuch:1": UNKNOWN_JOB: Unknown job
}

func ExampleJobException_Error() {
	// A worker returns one to choose the exact bytes of WORK_EXCEPTION;
	// the client's error carries the function and the handle too.
	err := &gearman.JobException{Function: "resize", Handle: "H:host:12", Data: []byte("unsupported format: tiff")}
	fmt.Println(err)
	// Output: gearman: resize job H:host:12 raised: unsupported format: tiff
}

func ExamplePanicError_Error() {
	pe := &gearman.PanicError{Value: fmt.Errorf("index out of range"), Stack: []byte("goroutine 9 [running]:\n...")}
	first, _, _ := strings.Cut(pe.Error(), "\n")
	fmt.Println(first)
	// Output: panic: index out of range
}

func ExampleServerError_Error() {
	err := &gearman.ServerError{Server: "127.0.0.1:4730", Request: gearman.SubmitJobBg, Code: "QUEUE_ERROR", Message: "queue full"}
	fmt.Println(err)
	// Output: gearman: 127.0.0.1:4730 refused SUBMIT_JOB_BG: QUEUE_ERROR: queue full
}

func ExampleMagic_String() {
	fmt.Println(gearman.MagicReq, gearman.MagicRes, gearman.Magic(7))
	// Output: REQ RES Magic(0x00000007)
}

func ExamplePacketType_String() {
	fmt.Println(gearman.SubmitJob, gearman.WorkComplete, gearman.PacketType(999))
	// Output: SUBMIT_JOB WORK_COMPLETE PacketType(999)
}

func ExamplePacket_String() {
	p := &gearman.Packet{Magic: gearman.MagicReq, Type: gearman.CanDo, Args: [][]byte{[]byte("resize")}}
	fmt.Println(p)
	// Output: REQ CAN_DO
}

// A loop that reads a connection: io.EOF at a packet boundary is the
// peer's clean close.
func ExamplePacketReader_ReadPacket() {
	var stream []byte
	stream, _ = gearman.AppendPacket(stream, gearman.MagicRes, gearman.Noop)
	stream, _ = gearman.AppendPacket(stream, gearman.MagicRes, gearman.JobAssign, []byte("H:host:1"), []byte("resize"), []byte("img-1"))
	pr := gearman.NewPacketReader(bytes.NewReader(stream), 0)
	for {
		p, err := pr.ReadPacket()
		if errors.Is(err, io.EOF) {
			fmt.Println("closed")
			return
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%v %q\n", p.Type, p.Args)
	}
	// Output:
	// NOOP []
	// JOB_ASSIGN ["H:host:1" "resize" "img-1"]
	// closed
}

// A job packet over the limit is skipped and the stream goes on: the
// reader fails that one job and keeps the connection.
func ExamplePacketTooLargeError_Error() {
	var stream []byte
	stream, _ = gearman.AppendPacket(stream, gearman.MagicRes, gearman.WorkComplete, []byte("H:host:1"), bytes.Repeat([]byte("x"), 2048))
	stream, _ = gearman.AppendPacket(stream, gearman.MagicRes, gearman.WorkComplete, []byte("H:host:2"), []byte("ok"))
	pr := gearman.NewPacketReader(bytes.NewReader(stream), 1024)

	_, err := pr.ReadPacket()
	var tl *gearman.PacketTooLargeError
	if errors.As(err, &tl) {
		fmt.Println(tl.Skipped, string(tl.Head[0]))
	}
	fmt.Println(err)
	p, err := pr.ReadPacket()
	fmt.Println(p.Arg(0), p.Arg(1), err)
	// Output:
	// true H:host:1
	// WORK_COMPLETE packet of 2057 bytes is over the 1024-byte limit
	// H:host:2 ok <nil>
}

// Any other packet over the limit leaves the stream unusable: the error
// wraps ErrProtocol and the connection must be closed.
func ExamplePacketTooLargeError_Unwrap() {
	stream, _ := gearman.AppendPacket(nil, gearman.MagicRes, gearman.EchoRes, bytes.Repeat([]byte("x"), 2048))
	_, err := gearman.NewPacketReader(bytes.NewReader(stream), 1024).ReadPacket()
	fmt.Println(errors.Is(err, gearman.ErrProtocol))

	// A skipped job packet does not: the stream is still good.
	stream, _ = gearman.AppendPacket(nil, gearman.MagicRes, gearman.WorkData, []byte("H:host:1"), bytes.Repeat([]byte("x"), 2048))
	_, err = gearman.NewPacketReader(bytes.NewReader(stream), 1024).ReadPacket()
	fmt.Println(errors.Is(err, gearman.ErrProtocol))
	// Output:
	// true
	// false
}
