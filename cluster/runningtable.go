package cluster

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// runningTable is a worker process's running file mapped into memory
// (MAP_SHARED): a header, then fixed-size slots, one per running job,
// each its key's length (0: free) and the key. Booking a job is a store
// to memory, not a system call; the page stays in the page cache when the
// process dies, for the worker that collects the file to read.
//
// A slot's key is written before its length, and its length is stored
// atomically: a process that dies half-way through booking a job (killed
// by another of its items) leaves that slot free and the others whole.
type runningTable struct {
	f    *os.File
	mem  []byte
	free []int // cleared slots
	used int   // slots handed out so far, cleared or not
}

const (
	runningMagic   = "glimpse running jobs v1\n"
	runningHeader  = 64   // bytes before the first slot
	runningSlot    = 1024 // a key: function (<= 208 bytes), handle and unique id (<= 63)
	runningKeyMax  = runningSlot - 4
	runningSlots   = 64       // slots mapped at first; the table doubles when full
	maxRunningFile = 16 << 20 // a running file read past this is cut
)

// mapRunningTable sizes f for the first slots and maps it.
func mapRunningTable(f *os.File) (*runningTable, error) {
	t := &runningTable{f: f}
	if err := t.resize(runningSlots); err != nil {
		return nil, err
	}
	copy(t.mem, runningMagic)
	return t, nil
}

// resize grows the file to slots slots and maps it anew (the slots keep
// what they hold: it is the same file).
func (t *runningTable) resize(slots int) error {
	size := runningHeader + slots*runningSlot
	if size > maxRunningFile {
		return fmt.Errorf("%s: over %d running jobs", t.f.Name(), slots/2)
	}
	if err := t.f.Truncate(int64(size)); err != nil {
		return err
	}
	mem, err := syscall.Mmap(int(t.f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("%s: mmap: %w", t.f.Name(), err)
	}
	t.unmap()
	t.mem = mem
	return nil
}

func (t *runningTable) slots() int { return (len(t.mem) - runningHeader) / runningSlot }

// put records key in a free slot and returns it; -1 if the table could
// not grow (the job runs unrecorded).
func (t *runningTable) put(key string) int {
	slot := -1
	switch {
	case len(t.free) > 0:
		slot, t.free = t.free[len(t.free)-1], t.free[:len(t.free)-1]
	case t.used < t.slots() || t.resize(2*t.slots()) == nil:
		slot, t.used = t.used, t.used+1
	default:
		return -1
	}
	off := runningHeader + slot*runningSlot
	n := copy(t.mem[off+4:off+runningSlot], key) // a longer key is cut, and counts for no job
	atomic.StoreUint32(t.length(off), uint32(n))
	return slot
}

// clear frees a slot: the job ended.
func (t *runningTable) clear(slot int) {
	if slot < 0 {
		return
	}
	atomic.StoreUint32(t.length(runningHeader+slot*runningSlot), 0)
	t.free = append(t.free, slot)
}

func (t *runningTable) length(off int) *uint32 {
	return (*uint32)(unsafe.Pointer(&t.mem[off]))
}

func (t *runningTable) unmap() {
	if t.mem != nil {
		syscall.Munmap(t.mem)
		t.mem = nil
	}
}

// runningKeys reads the jobs in a dead process's running file: a table,
// or the JSON list that workers before it wrote. A torn list counts no
// job.
func runningKeys(data []byte) []string {
	if data, ok := bytes.CutPrefix(data, []byte(runningMagic)); ok {
		return tableKeys(data[min(len(data), runningHeader-len(runningMagic)):])
	}
	var keys []string
	_ = json.Unmarshal(data, &keys)
	return keys
}

func tableKeys(slots []byte) []string {
	var keys []string
	for ; len(slots) >= runningSlot; slots = slots[runningSlot:] {
		n := binary.NativeEndian.Uint32(slots)
		if n > 0 && n <= runningKeyMax {
			keys = append(keys, string(slots[4:4+n]))
		}
	}
	return keys
}
