//go:build !linux

package broker

// blockSignals is a no-op where it is not written: a signal landing on a
// proxy's thread may then restart the proxy, and its counters with it.
func blockSignals() (restore func()) { return func() {} }

func threadID() int { return 0 }
