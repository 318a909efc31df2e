package webhook

import "github.com/glimpse-go/glimpse/metrics/histogram"

// latency is how long receivers took to answer, in seconds, from the
// request's start to the answer's headers; calls that got no answer
// (refused, timed out) are not in it.
var latency = histogram.New(histogram.DurationBuckets)

// Latency returns the histogram of this process's webhook calls' latency
// (seconds until the receiver's answer), for metrics.
func Latency() histogram.Snapshot { return latency.Snapshot() }
