package gearman

import (
	"bytes"
	"net"
	"runtime"
	"testing"
)

// TestLargeDataWrittenInPlace: a packet whose data is large is queued
// without copying the data (it is written from where it is, by writev),
// and the stream still carries every packet whole and in order.
func TestLargeDataWrittenInPlace(t *testing.T) {
	client, server := net.Pipe()
	c := &conn{nc: client, addr: "pipe", handoff: make(chan struct{}, 1), done: make(chan struct{}), writerDone: make(chan struct{})}
	go c.writeLoop()
	defer func() {
		c.close(errConnClosed)
		server.Close()
		<-c.writerDone
	}()

	big := bytes.Repeat([]byte{7}, 8<<20)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c.mu.Lock()
	c.writing = true // hold the write side: queue only
	c.mu.Unlock()
	if _, err := c.enqueue(SubmitJob, []byte("f"), []byte("u1"), []byte("small")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.enqueue(SubmitJob, []byte("f"), []byte("u2"), big); err != nil {
		t.Fatal(err)
	}
	if _, err := c.enqueue(SubmitJob, []byte("f"), []byte("u3"), []byte("after")); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("queueing an 8 MiB packet allocated %d bytes: its data was copied", grew)
	}

	pr := NewPacketReader(server, 0)
	got := make(chan []*Packet, 1)
	go func() {
		var ps []*Packet
		for range 3 {
			p, err := pr.ReadPacket()
			if err != nil {
				break
			}
			ps = append(ps, p)
		}
		got <- ps
	}()
	c.handoff <- struct{}{} // writing stays set: the writer goroutine owns it now
	ps := <-got
	want := [][]byte{[]byte("small"), big, []byte("after")}
	if len(ps) != 3 {
		t.Fatalf("%d packets arrived, want 3", len(ps))
	}
	for i, p := range ps {
		if p.Type != SubmitJob || string(p.Args[1]) != "u"+string(rune('1'+i)) || !bytes.Equal(p.Args[2], want[i]) {
			t.Fatalf("packet %d: %s unique %q, %d data bytes; want SUBMIT_JOB u%d with %d", i, p.Type, p.Args[1], len(p.Args[2]), i+1, len(want[i]))
		}
	}
}

// TestMoreDataQueuedInPlace: a packet whose data goes on in parts
// (enqueueMore) is queued without copying them, and arrives as one packet
// whose data is the parts in order.
func TestMoreDataQueuedInPlace(t *testing.T) {
	client, server := net.Pipe()
	c := &conn{nc: client, addr: "pipe", handoff: make(chan struct{}, 1), done: make(chan struct{}), writerDone: make(chan struct{})}
	go c.writeLoop()
	defer func() {
		c.close(errConnClosed)
		server.Close()
		<-c.writerDone
	}()
	parts := [][]byte{bytes.Repeat([]byte{1}, 4<<20), []byte("mid"), bytes.Repeat([]byte{2}, 4<<20)}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c.mu.Lock()
	c.writing = true // hold the write side: queue only
	c.mu.Unlock()
	if _, err := c.enqueueMore(WorkComplete, parts, []byte("H:1"), []byte("head")); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("queueing 8 MiB of parts allocated %d bytes: they were copied", grew)
	}
	got := make(chan *Packet, 1)
	go func() {
		p, _ := NewPacketReader(server, 0).ReadPacket()
		got <- p
	}()
	c.handoff <- struct{}{}
	p := <-got
	want := bytes.Join(append([][]byte{[]byte("head")}, parts...), nil)
	if p == nil || p.Type != WorkComplete || string(p.Args[0]) != "H:1" || !bytes.Equal(p.Args[1], want) {
		t.Fatalf("got %v, want WORK_COMPLETE H:1 with the head and the parts (%d bytes)", p, len(want))
	}
}
