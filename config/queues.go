package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/ini.v1"
)

// The task queues' sections: one [queue NAME] per limited queue and one
// [periodic NAME] per periodic task. NAME follows the function-name rule.
const (
	secQueuePrefix    = "queue "
	secPeriodicPrefix = "periodic "

	keyRate       = "rate"
	keyBurst      = "burst"
	keyMaxRunning = "max_running"

	keySchedule = "schedule"
	keyFunction = "function"
	keyQueue    = "queue"
	keyItem     = "item"
)

var (
	queueKeys    = []string{keyRate, keyBurst, keyMaxRunning}
	periodicKeys = []string{keySchedule, keyFunction, keyQueue, keyItem}
)

// Queue is a [queue NAME] section: the cluster-wide limits of one task
// queue (package tasks/ratelimit enforces them). Zero means unlimited.
type Queue struct {
	Rate       float64 // rate: dispatches per second, sustained, across the whole cluster
	Burst      int     // burst: the most dispatches in any one second; 0 = ceil(rate); at least rate
	MaxRunning int     // max_running: tasks of the queue running at once, cluster-wide
}

// Validate checks limits built in code with the rules Load applies.
func (q Queue) Validate() error { return join(q.check("")) }

func (q Queue) check(section string) []*Error {
	var errs []*Error
	fail := func(key, format string, args ...any) {
		errs = append(errs, &Error{Section: section, Key: key, Err: fmt.Errorf(format, args...)})
	}
	switch {
	case math.IsNaN(q.Rate) || math.IsInf(q.Rate, 0) || q.Rate < 0:
		fail(keyRate, "%v: must be a number of dispatches per second, 0 for no limit", q.Rate)
	case q.Burst < 0:
		fail(keyBurst, "%d: must be a number of dispatches, 0 for ceil(rate)", q.Burst)
	case q.Burst > 0 && q.Rate == 0:
		fail(keyBurst, "%d: needs a rate (burst is the most dispatches in any one second of a rate limit)", q.Burst)
	case q.Burst > 0 && float64(q.Burst) < q.Rate:
		fail(keyBurst, "%d is below rate %v: burst is the most dispatches in any one second, so it must be at least the rate", q.Burst, q.Rate)
	}
	if q.MaxRunning < 0 {
		fail(keyMaxRunning, "%d: must be a number of tasks, 0 for no limit", q.MaxRunning)
	}
	return errs
}

// Periodic is a [periodic NAME] section: a task enqueued once per period
// of its schedule, cluster-wide (package tasks/periodic runs it).
type Periodic struct {
	Name     string          // NAME of the section
	Schedule string          // schedule: a cron expression ("*/5 * * * *", optional seconds field first) or @every 10s, @hourly, ...
	Function string          // function: the registered function to call
	Queue    string          // queue: the task queue; "" = the default
	Item     json.RawMessage // item: the argument, as JSON; empty = null
}

// Validate checks a Periodic built in code with the rules Load applies.
func (p Periodic) Validate() error { return join(p.check(secPeriodicPrefix + p.Name)) }

func (p Periodic) check(section string) []*Error {
	var errs []*Error
	fail := func(key string, err error) { errs = append(errs, &Error{Section: section, Key: key, Err: err}) }
	if !ValidFunctionName(p.Name) {
		fail("", fmt.Errorf("%q: not a periodic task name (1-%d of letters, digits, '.', '_', '-', ':')", p.Name, maxFunctionName))
	}
	if p.Schedule == "" {
		fail(keySchedule, errors.New("missing: a cron expression (\"0 3 * * *\") or @every DURATION"))
	} else if _, err := ParseSchedule(p.Schedule); err != nil {
		fail(keySchedule, err)
	}
	if !ValidFunctionName(p.Function) {
		fail(keyFunction, fmt.Errorf("%q: not a function name (1-%d of letters, digits, '.', '_', '-', ':')", p.Function, maxFunctionName))
	}
	if p.Queue != "" && !ValidFunctionName(p.Queue) {
		fail(keyQueue, fmt.Errorf("%q: not a queue name (1-%d of letters, digits, '.', '_', '-', ':')", p.Queue, maxFunctionName))
	}
	if len(p.Item) > 0 && !json.Valid(p.Item) {
		fail(keyItem, fmt.Errorf("%s: not JSON", p.Item))
	}
	return errs
}

// scheduleParser reads standard five-field cron expressions, with an
// optional leading seconds field, and the @every/@hourly descriptors.
var scheduleParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ErrScheduleTooFrequent is returned by ParseSchedule for an @every below
// one second or not a whole number of seconds: cron's periods are whole
// seconds, and each period is claimed in the store.
var ErrScheduleTooFrequent = errors.New("@every takes a whole number of seconds, at least 1s")

// ParseSchedule parses a [periodic] schedule: "m h dom mon dow", "s m h
// dom mon dow", "@every 10s", "@hourly", "@daily", ...; a leading
// "CRON_TZ=Europe/Paris " sets the time zone (default UTC, so that every
// host agrees on the periods whatever its local zone).
func ParseSchedule(spec string) (cron.Schedule, error) {
	s := strings.TrimSpace(spec)
	if rest, ok := strings.CutPrefix(s, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err == nil && (d < time.Second || d%time.Second != 0) {
			return nil, fmt.Errorf("%q: %w", spec, ErrScheduleTooFrequent)
		}
	}
	if !strings.HasPrefix(s, "CRON_TZ=") && !strings.HasPrefix(s, "TZ=") {
		s = "CRON_TZ=UTC " + s
	}
	sched, err := scheduleParser.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", spec, err)
	}
	return sched, nil
}

// queueSection and periodicSection parse the task sections; parse calls
// them for any section whose name starts with "queue " or "periodic ".
func (p *parser) queueSection(section, name string, v map[string]string) {
	if !ValidFunctionName(name) {
		p.fail(section, "", fmt.Errorf("%q: not a queue name (1-%d of letters, digits, '.', '_', '-', ':')", name, maxFunctionName))
		return
	}
	q := Queue{}
	if s, ok := v[keyRate]; ok {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil {
			p.fail(section, keyRate, fmt.Errorf("%q: not a number of dispatches per second", s))
			return
		}
		q.Rate = r
	}
	p.integer(section, keyBurst, v, &q.Burst)
	p.integer(section, keyMaxRunning, v, &q.MaxRunning)
	if errs := q.check(section); len(errs) > 0 {
		p.errs = append(p.errs, errs...)
		return
	}
	if p.file.Queues == nil {
		p.file.Queues = make(map[string]Queue)
	}
	p.file.Queues[name] = q
}

func (p *parser) periodicSection(section, name string, v map[string]string) {
	e := Periodic{Name: name, Schedule: v[keySchedule], Function: v[keyFunction], Queue: v[keyQueue]}
	if s, ok := v[keyItem]; ok {
		e.Item = json.RawMessage(s)
	}
	if errs := e.check(section); len(errs) > 0 {
		p.errs = append(p.errs, errs...)
		return
	}
	p.file.Periodic = append(p.file.Periodic, e)
}

// taskSection reports whether sec is a [queue NAME] or [periodic NAME]
// section, and parses it if so.
func (p *parser) taskSection(sec *ini.Section) bool {
	name := sec.Name()
	switch {
	case strings.HasPrefix(name, secQueuePrefix):
		p.queueSection(name, strings.TrimSpace(strings.TrimPrefix(name, secQueuePrefix)), p.values(sec))
	case strings.HasPrefix(name, secPeriodicPrefix):
		p.periodicSection(name, strings.TrimSpace(strings.TrimPrefix(name, secPeriodicPrefix)), p.values(sec))
	default:
		return false
	}
	return true
}

// keysOf lists the keys a section takes: sectionKeys, or the task
// sections' keys for a [queue NAME] or [periodic NAME].
func keysOf(section string) []string {
	switch {
	case strings.HasPrefix(section, secQueuePrefix):
		return queueKeys
	case strings.HasPrefix(section, secPeriodicPrefix):
		return periodicKeys
	}
	return sectionKeys[section]
}
