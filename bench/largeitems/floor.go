package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchenv"
	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/gearman"
)

// The floor under a map of large items, measured in the same run with the
// same items: what the job server and the loopback cost on their own.
//
//   - bare Gearman: a gearman.Client in this process submits every item as
//     a job of its own, all in flight, to -workers echo gearman.Worker
//     processes of -slots slots through the same gearmand;
//   - raw TCP: the same bytes through a relay process that copies them
//     through user space as gearmand does (client -> relay -> echo process
//     -> relay -> client), four socket copies per byte, as through
//     gearmand.

// floorFunc is the bare echo workers' Gearman function.
const floorFunc = "largeitems_floor_echo"

// serve runs this process as one of the floor's helper processes and
// prints "ready ADDR" once it listens (or serves).
func serve(ctx context.Context, mode, arg string, slots int) error {
	switch mode {
	case "echo-worker":
		return echoWorker(ctx, arg, slots)
	case "tcp-echo":
		return listenAndServe(ctx, func(c net.Conn) { copyThrough(c, c) })
	case "relay":
		return listenAndServe(ctx, func(c net.Conn) { relay(c, arg) })
	}
	return fmt.Errorf("-serve %q: want echo-worker, tcp-echo or relay", mode)
}

func echoWorker(ctx context.Context, addr string, slots int) error {
	w, err := gearman.NewWorker([]string{addr}, gearman.WithConcurrency(slots))
	if err != nil {
		return err
	}
	echo := func(_ context.Context, j *gearman.Job) ([]byte, error) { return j.Data, nil }
	if err := w.Register(floorFunc, echo); err != nil {
		return err
	}
	go func() { <-ctx.Done(); w.Close() }()
	fmt.Println("ready", addr)
	if err := w.Run(); !errors.Is(err, gearman.ErrWorkerClosed) {
		return err
	}
	return nil
}

func listenAndServe(ctx context.Context, handle func(net.Conn)) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); ln.Close() }()
	fmt.Println("ready", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			return nil
		}
		go handle(c)
	}
}

// relay copies between c and a new connection to backend, both ways.
func relay(c net.Conn, backend string) {
	defer c.Close()
	b, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	defer b.Close()
	go copyThrough(b, c)
	copyThrough(c, b)
}

// copyThrough copies src to dst through a buffer in user space (no
// splice), as a job server does, and closes dst's write side at the end.
func copyThrough(dst io.Writer, src io.Reader) {
	buf := make([]byte, 256<<10)
	io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf)
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// helper is a started helper process and the address it printed.
type helper struct {
	cmd  *exec.Cmd
	addr string
}

func startHelper(ctx context.Context, self string, args ...string) (*helper, error) {
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	if err != nil || !ok {
		benchenv.Terminate([]*exec.Cmd{cmd})
		return nil, fmt.Errorf("helper %v said %q: %v", args, line, err)
	}
	return &helper{cmd: cmd, addr: addr}, nil
}

func stopHelpers(hs []*helper) {
	var cmds []*exec.Cmd
	for _, h := range hs {
		cmds = append(cmds, h.cmd)
	}
	benchenv.Terminate(cmds)
}

func pidsOf(hs []*helper) []int {
	var pids []int
	for _, h := range hs {
		pids = append(pids, h.cmd.Process.Pid)
	}
	return pids
}

// floorItems are the floor's items: as many, as large, as the maps'.
func floorItems(res *result) [][]byte {
	in := make([][]byte, res.Items)
	for i := range in {
		in[i] = make([]byte, res.ItemBytes)
		for j := range in[i] {
			in[i][j] = byte(i + j)
		}
	}
	return in
}

// measureFloor runs both floors, maps rounds each.
func measureFloor(ctx context.Context, self, gearmandAddr string, gearmandPid, maps int, res *result) error {
	in := floorItems(res)
	bare, err := bareGearman(ctx, self, gearmandAddr, gearmandPid, maps, in, res)
	if err != nil {
		return fmt.Errorf("bare gearman floor: %w", err)
	}
	raw, err := rawTCP(ctx, self, maps, in)
	if err != nil {
		return fmt.Errorf("raw TCP floor: %w", err)
	}
	res.Floor = []benchjson.LargeFloor{bare, raw}
	return nil
}

// timeRounds runs one round trip of all items maps times, and fills in
// the MB/s figures and this process's CPU per round.
func timeRounds(f *benchjson.LargeFloor, maps int, mb float64, round func() error) error {
	cpu0 := cpuTime()
	for range maps {
		start := time.Now()
		if err := round(); err != nil {
			return err
		}
		f.AllMBps = append(f.AllMBps, mb/time.Since(start).Seconds())
	}
	f.ClientCPUms = float64((cpuTime()-cpu0)/time.Millisecond) / float64(maps)
	f.FirstMBps = f.AllMBps[0]
	later := slices.Clone(f.AllMBps[1:])
	slices.Sort(later)
	f.SteadyMBps = later[len(later)/2]
	return nil
}

func bareGearman(ctx context.Context, self, addr string, gearmandPid, maps int, in [][]byte, res *result) (benchjson.LargeFloor, error) {
	f := benchjson.LargeFloor{Name: "bare gearman.Client/Worker, one job per item, all in flight", Server: "gearmand"}
	var ws []*helper
	defer func() { stopHelpers(ws) }()
	for range res.Workers {
		h, err := startHelper(ctx, self, "-serve", "echo-worker", "-serve-arg", addr, "-slots", fmt.Sprint(res.Slots))
		if err != nil {
			return f, err
		}
		ws = append(ws, h)
	}
	c, err := gearman.NewClient(ctx, []string{addr})
	if err != nil {
		return f, err
	}
	defer c.Close()
	if _, err := c.Call(ctx, floorFunc, []byte("warm")); err != nil {
		return f, err
	}
	pids := append([]int{gearmandPid}, pidsOf(ws)...)
	cpu0 := benchenv.ProcCPU(pids)
	err = timeRounds(&f, maps, float64(len(in))*float64(len(in[0]))/1e6, func() error {
		tasks := make([]*gearman.Task, len(in))
		for i, item := range in {
			if tasks[i], err = c.Dispatch(ctx, floorFunc, item); err != nil {
				return err
			}
		}
		for i, t := range tasks {
			out, err := t.Wait(ctx)
			if err != nil {
				return err
			}
			if len(out) != len(in[i]) || out[0] != in[i][0] || out[len(out)-1] != in[i][len(out)-1] {
				return fmt.Errorf("item %d came back different", i)
			}
		}
		return nil
	})
	f.ServerCPUms, f.WorkersCPUms = cpuPerMap(cpu0, benchenv.ProcCPU(pids), maps)
	return f, err
}

// cpuPerMap splits the CPU the processes took (the server first, then the
// workers) into ms per map.
func cpuPerMap(before, after []time.Duration, maps int) (server, workers float64) {
	ms := func(i int) float64 { return float64((after[i]-before[i])/time.Millisecond) / float64(maps) }
	server = ms(0)
	for i := 1; i < len(after); i++ {
		workers += ms(i)
	}
	return server, workers
}

func rawTCP(ctx context.Context, self string, maps int, in [][]byte) (benchjson.LargeFloor, error) {
	f := benchjson.LargeFloor{Name: "raw loopback TCP through a relay process (user-space copy), same bytes", Server: "relay"}
	echo, err := startHelper(ctx, self, "-serve", "tcp-echo")
	if err != nil {
		return f, err
	}
	defer stopHelpers([]*helper{echo})
	rel, err := startHelper(ctx, self, "-serve", "relay", "-serve-arg", echo.addr)
	if err != nil {
		return f, err
	}
	defer stopHelpers([]*helper{rel})
	conn, err := net.Dial("tcp", rel.addr)
	if err != nil {
		return f, err
	}
	defer conn.Close()
	back := make([][]byte, len(in))
	for i := range back {
		back[i] = make([]byte, len(in[i]))
	}
	pids := []int{rel.cmd.Process.Pid, echo.cmd.Process.Pid}
	cpu0 := benchenv.ProcCPU(pids)
	err = timeRounds(&f, maps, float64(len(in))*float64(len(in[0]))/1e6, func() error {
		return roundTrip(conn, in, back)
	})
	f.ServerCPUms, f.WorkersCPUms = cpuPerMap(cpu0, benchenv.ProcCPU(pids), maps)
	return f, err
}

// roundTrip writes every item, each after a 4-byte length, while reading
// them back into back.
func roundTrip(conn net.Conn, in, back [][]byte) error {
	wrote := make(chan error, 1)
	go func() {
		var hdr [4]byte
		for _, item := range in {
			binary.BigEndian.PutUint32(hdr[:], uint32(len(item)))
			bufs := net.Buffers{hdr[:], item}
			if _, err := bufs.WriteTo(conn); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	var hdr [4]byte
	for i := range back {
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return err
		}
		if _, err := io.ReadFull(conn, back[i][:binary.BigEndian.Uint32(hdr[:])]); err != nil {
			return err
		}
	}
	return <-wrote
}
