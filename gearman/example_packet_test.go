package gearman_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/glimpse-go/glimpse/gearman"
)

// AppendPacket encodes a packet; a PacketReader reads it back.
func ExampleAppendPacket() {
	buf, err := gearman.AppendPacket(nil, gearman.MagicReq, gearman.SubmitJob,
		[]byte("resize"), []byte("img-1"), []byte("\x00binary data"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(buf)) // a 12-byte header, then the arguments joined by NUL bytes
	_, err = gearman.AppendPacket(nil, gearman.MagicReq, gearman.SubmitJob, []byte("resize"))
	fmt.Println(err != nil) // SUBMIT_JOB takes three arguments
	// Output:
	// 37
	// true
}

// NewPacketReader reads whole packets; one over its limit is an error.
func ExampleNewPacketReader() {
	var stream []byte
	stream, _ = gearman.AppendPacket(stream, gearman.MagicRes, gearman.JobCreated, []byte("H:host:1"))
	stream, _ = gearman.AppendPacket(stream, gearman.MagicRes, gearman.WorkComplete, []byte("H:host:1"), []byte("done"))

	pr := gearman.NewPacketReader(bytes.NewReader(stream), 1024)
	for {
		p, err := pr.ReadPacket()
		if err != nil {
			break // io.EOF
		}
		fmt.Printf("%v %q\n", p, p.Args)
	}
	// Output:
	// RES JOB_CREATED ["H:host:1"]
	// RES WORK_COMPLETE ["H:host:1" "done"]
}

// Packet.Arg reads an argument as a string, "" past the last.
func ExamplePacket_Arg() {
	p := &gearman.Packet{Magic: gearman.MagicRes, Type: gearman.EchoRes, Args: [][]byte{[]byte("hello")}}
	fmt.Printf("%q %q\n", p.Arg(0), p.Arg(1))
	// Output: "hello" ""
}

// Priority names its queue.
func ExamplePriority_String() {
	fmt.Println(gearman.PriorityHigh, gearman.PriorityNormal, gearman.PriorityLow)
	// Output: high normal low
}

// PacketType names a packet and knows how many arguments it takes.
func ExamplePacketType_NumArgs() {
	fmt.Println(gearman.SubmitJob, gearman.SubmitJob.NumArgs())
	fmt.Println(gearman.WorkComplete, gearman.WorkComplete.NumArgs())
	// Output:
	// SUBMIT_JOB 3
	// WORK_COMPLETE 2
}
