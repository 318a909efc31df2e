package cli

import (
	"errors"
	"flag"
	"math"
	"strconv"
	"strings"
	"time"
)

// secondsOrDuration is a flag.Value for durations that also takes a bare
// number as seconds: glimpse's users type "ping -t 2", Go's users "2s".
type secondsOrDuration time.Duration

// errBadDuration says what a duration flag accepts.
var errBadDuration = errors.New(`want a duration such as 2s, 500ms or 1m, or a number of seconds such as 2 or 2.5`)

func (d *secondsOrDuration) String() string { return time.Duration(*d).String() }

func (d *secondsOrDuration) Set(s string) error {
	v, err := parseSecondsOrDuration(s)
	if err != nil {
		return err
	}
	*d = secondsOrDuration(v)
	return nil
}

// parseSecondsOrDuration reads "2" or "2.5" as seconds, anything else as a
// time.ParseDuration string.
func parseSecondsOrDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(secs) || math.Abs(secs) > math.MaxInt64/float64(time.Second) {
			return 0, errBadDuration
		}
		return time.Duration(secs * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errBadDuration
	}
	return d, nil
}

// durationFlag defines a duration flag that accepts a bare number of
// seconds too; use it for every duration flag of the command line.
func durationFlag(fs *flag.FlagSet, name string, value time.Duration, usage string) *time.Duration {
	d := secondsOrDuration(value)
	fs.Var(&d, name, usage+" (a duration such as 500ms or 1m, or seconds)")
	return (*time.Duration)(&d)
}

func flagsSet(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}
