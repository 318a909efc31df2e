package pool

import (
	"testing"
	"time"
)

func TestCommandValidateAndMatch(t *testing.T) {
	c := NewCommand(CommandQuit, time.Minute, "host1-*", "db?")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id, host string
		want     bool
	}{
		{"host1-42-abc", "x", true}, {"host2-1-a", "db1", true}, {"host2-1-a", "web", false},
	} {
		if got := c.Matches(tc.id, tc.host); got != tc.want {
			t.Errorf("Matches(%q, %q) = %v", tc.id, tc.host, got)
		}
	}
	if !NewCommand(CommandPing, time.Minute).Matches("any", "any") {
		t.Error("a command with no targets must match every worker")
	}
	if c.Expired(time.Now()) || !c.Expired(c.Expires) {
		t.Error("expiry")
	}
	for name, bad := range map[string]Command{
		"no id":           {Name: CommandPing, Expires: time.Now()},
		"unknown":         {ID: "x", Name: "reboot", Expires: time.Now()},
		"no expiry":       {ID: "x", Name: CommandPing},
		"bad pattern":     {ID: "x", Name: CommandPing, Expires: time.Now(), Targets: []string{"["}},
		"cancel, no map":  {ID: "x", Name: CommandCancel, Expires: time.Now()},
		"cancel, bad map": {ID: "x", Name: CommandCancel, Expires: time.Now(), Map: "../x"},
		"ping with a map": {ID: "x", Name: CommandPing, Expires: time.Now(), Map: "ab"},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	cancel := NewCommand(CommandCancel, time.Minute)
	cancel.Map = "0123456789abcdef"
	if err := cancel.Validate(); err != nil {
		t.Errorf("cancel: %v", err)
	}
}
