//go:build race

package cluster

// raceDetector: the race detector's shadow memory is not the Go heap's to
// give back, so the RSS test only logs it.
const raceDetector = true
