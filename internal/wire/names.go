package wire

import (
	"fmt"
	"strconv"
	"strings"
)

// GearmanPrefix is put before a registered name to make its Gearman
// function name: "imaging.resize" is served as "glimpse.imaging.resize".
const GearmanPrefix = "glimpse."

// CommandTopic is the fanout topic every worker subscribes to with its
// worker id, so its command queue is the Gearman function
// "glimpse-commands_<worker id>" (not "glimpse.": that prefix is the pool
// functions').
const CommandTopic = "glimpse-commands"

// WorkerClientID is the Gearman client id a glimpse worker process sets on
// its connections. gearmand's admin "workers" listing shows one line per
// connection, and a worker process runs many slots on one connection, so
// the id carries the slot count for pools to size chunks by.
func WorkerClientID(workerID string, slots int) string {
	return fmt.Sprintf("glimpse/%d/%s", slots, workerID)
}

// ParseWorkerClientID undoes WorkerClientID; ok is false for any other id.
func ParseWorkerClientID(id string) (workerID string, slots int, ok bool) {
	rest, ok := strings.CutPrefix(id, "glimpse/")
	if !ok {
		return "", 0, false
	}
	n, workerID, ok := strings.Cut(rest, "/")
	slots, err := strconv.Atoi(n)
	if !ok || err != nil || slots < 1 || workerID == "" {
		return "", 0, false
	}
	return workerID, slots, true
}
