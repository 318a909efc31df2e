package config

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestQueueAndPeriodicSections(t *testing.T) {
	f, err := Parse("config.ini", []byte(`[client]
job_server_url = a
[queue emails]
rate = 50
burst = 60
max_running = 2
[queue reports]
max_running = 1
[periodic nightly]
schedule = 0 3 * * *
function = reports.build
queue = reports
item = {"full": true}
[periodic tick]
schedule = @every 10s
function = tick
`))
	if err != nil {
		t.Fatal(err)
	}
	if q := f.Queues["emails"]; q != (Queue{Rate: 50, Burst: 60, MaxRunning: 2}) {
		t.Errorf("[queue emails] = %+v", q)
	}
	if q := f.Queues["reports"]; q != (Queue{MaxRunning: 1}) {
		t.Errorf("[queue reports] = %+v", q)
	}
	if len(f.Periodic) != 2 || f.Periodic[0].Name != "nightly" || f.Periodic[1].Name != "tick" {
		t.Fatalf("Periodic = %+v", f.Periodic)
	}
	n := f.Periodic[0]
	var item map[string]bool
	if err := json.Unmarshal(n.Item, &item); err != nil || !item["full"] ||
		n.Schedule != "0 3 * * *" || n.Function != "reports.build" || n.Queue != "reports" {
		t.Errorf("[periodic nightly] = %+v (%v)", n, err)
	}
}

// TestQueueErrors: each bad value is an *Error naming the file, the
// section and the key.
func TestQueueErrors(t *testing.T) {
	const client = "[client]\njob_server_url = a\n"
	for _, tc := range []struct{ name, in, section, key, msg string }{
		{"negative rate", "[queue q]\nrate = -5\n", "queue q", "rate", "-5: must be a number of dispatches per second"},
		{"rate garbage", "[queue q]\nrate = fast\n", "queue q", "rate", `"fast": not a number`},
		{"rate NaN", "[queue q]\nrate = NaN\n", "queue q", "rate", "must be a number"},
		{"negative burst", "[queue q]\nrate = 5\nburst = -1\n", "queue q", "burst", "-1: must be a number"},
		{"burst below rate", "[queue q]\nrate = 50\nburst = 10\n", "queue q", "burst", "10 is below rate 50"},
		{"burst without rate", "[queue q]\nburst = 10\n", "queue q", "burst", "needs a rate"},
		{"negative max_running", "[queue q]\nmax_running = -2\n", "queue q", "max_running", "-2: must be a number of tasks"},
		{"unknown queue key", "[queue q]\nmax_concurrency = 2\n", "queue q", "max_concurrency", "[queue q] takes rate, burst, max_running"},
		{"bad queue name", "[queue a b]\nrate = 1\n", "queue a b", "", "not a queue name"},
		{"bad cron", "[periodic p]\nschedule = 61 * * * *\nfunction = f\n", "periodic p", "schedule", `"61 * * * *"`},
		{"cron garbage", "[periodic p]\nschedule = every day\nfunction = f\n", "periodic p", "schedule", "every day"},
		{"every too short", "[periodic p]\nschedule = @every 100ms\nfunction = f\n", "periodic p", "schedule", "at least 1s"},
		{"no schedule", "[periodic p]\nfunction = f\n", "periodic p", "schedule", "missing"},
		{"no function", "[periodic p]\nschedule = @hourly\n", "periodic p", "function", "not a function name"},
		{"bad item", "[periodic p]\nschedule = @hourly\nfunction = f\nitem = {nope\n", "periodic p", "item", "not JSON"},
		{"bad periodic queue", "[periodic p]\nschedule = @hourly\nfunction = f\nqueue = a b\n", "periodic p", "queue", "not a queue name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("config.ini", []byte(client+tc.in))
			e := findError(err, tc.section, tc.key)
			if e == nil {
				t.Fatalf("no *Error for [%s] %s in: %v", tc.section, tc.key, err)
			}
			where := "[" + tc.section + "]"
			if tc.key != "" {
				where += " " + tc.key
			}
			msg := e.Error()
			if !strings.HasPrefix(msg, "config.ini:") || !strings.Contains(msg, where) || !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q: want file:line, %s and %q", msg, where, tc.msg)
			}
		})
	}
}

func TestParseSchedule(t *testing.T) {
	for _, ok := range []string{"*/5 * * * *", "30 */5 * * * *", "@every 10s", "@every 1m30s", "@hourly", "CRON_TZ=Europe/Paris 0 3 * * *"} {
		if _, err := ParseSchedule(ok); err != nil {
			t.Errorf("ParseSchedule(%q): %v", ok, err)
		}
	}
	if _, err := ParseSchedule("@every 1500ms"); !errors.Is(err, ErrScheduleTooFrequent) {
		t.Errorf("@every 1500ms: %v, want ErrScheduleTooFrequent", err)
	}
}
