package broker

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// blockSignals blocks the asynchronous signals on the calling thread,
// which the caller has locked, and returns what restores its mask. The
// synchronous ones (a fault in C code) stay deliverable, so that a crash
// still reports as one.
func blockSignals() (restore func()) {
	var set, old unix.Sigset_t
	for i := range set.Val {
		set.Val[i] = ^set.Val[i]
	}
	bits := uint(unsafe.Sizeof(set.Val[0]) * 8)
	for _, sig := range []syscall.Signal{syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL,
		syscall.SIGTRAP, syscall.SIGSYS, syscall.SIGABRT} {
		n := uint(sig) - 1
		set.Val[n/bits] &^= 1 << (n % bits)
	}
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, &old); err != nil {
		return func() {} // the proxy may then restart on a signal, and its counters with it
	}
	return func() { unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil) }
}

// threadID is the calling thread's id, for tgkill.
func threadID() int { return unix.Gettid() }
