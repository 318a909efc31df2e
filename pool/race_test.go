//go:build race

package pool_test

// raceDetector: the race detector multiplies a process's memory, so the
// tests that bound RSS only log it.
const raceDetector = true
