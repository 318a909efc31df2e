//go:build race

package cli

// raceDetector: worker processes run the race detector too, which makes
// them several times slower (the SQLite driver is Go code).
const raceDetector = true
