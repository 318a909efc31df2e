package config

import (
	"strings"
	"testing"
	"time"
)

func TestTasksSection(t *testing.T) {
	f, err := Parse("c.ini", []byte("[client]\njob_server_url = g1\n[tasks]\nstore = /var/lib/glimpse/tasks.db\nserve = false\nretention = 1h\nlease = 5s\nmax_attempts = 3\nmin_backoff = 100ms\nmax_backoff = 2s\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultTasks()
	want.Store, want.Serve, want.Retention, want.Lease = "/var/lib/glimpse/tasks.db", false, time.Hour, 5*time.Second
	want.MaxAttempts, want.MinBackoff, want.MaxBackoff = 3, 100*time.Millisecond, 2*time.Second
	if f.Tasks != want {
		t.Fatalf("got %+v\nwant %+v", f.Tasks, want)
	}
	if p, _ := f.Tasks.StorePath(f.Fanout); p != want.Store {
		t.Errorf("StorePath = %q", p)
	}
}

func TestTasksSectionErrors(t *testing.T) {
	_, err := Parse("c.ini", []byte("[client]\njob_server_url = g1\n[tasks]\nstore = mysql://x\nlease = -1s\nbatch_size = 0\nmin_backoff = 5s\nmax_backoff = 1s\nserve = maybe\n"))
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{"[tasks] store", "[tasks] lease", "[tasks] batch_size", "[tasks] max_backoff", "[tasks] serve"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not name %s:\n%v", s, err)
		}
	}
}
