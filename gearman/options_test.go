package gearman_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/gearman"
)

// Each option is accepted by exactly the parties it concerns, so that
// passing, say, WithConcurrency to NewClient does not compile.
func TestOptionsApplyOnlyToTheirParties(t *testing.T) {
	cases := []struct {
		name                  string
		opt                   any
		client, worker, admin bool
	}{
		{"WithClientID", gearman.WithClientID("x"), true, true, false},
		{"WithDialTimeout", gearman.WithDialTimeout(time.Second), true, true, true},
		{"WithTLS", gearman.WithTLS(nil), true, true, true},
		{"WithRequestTimeout", gearman.WithRequestTimeout(time.Second), true, false, true},
		{"WithMaxPacketSize", gearman.WithMaxPacketSize(1 << 10), true, true, false},
		{"WithBackoff", gearman.WithBackoff(time.Millisecond, time.Second), true, true, false},
		{"WithLogger", gearman.WithLogger(slog.Default()), true, true, false},
		{"WithConcurrency", gearman.WithConcurrency(1), false, true, false},
	}
	for _, tc := range cases {
		_, client := tc.opt.(gearman.ClientOption)
		_, worker := tc.opt.(gearman.WorkerOption)
		_, admin := tc.opt.(gearman.AdminOption)
		if client != tc.client || worker != tc.worker || admin != tc.admin {
			t.Errorf("%s applies to client %v, worker %v, admin %v; want %v, %v, %v",
				tc.name, client, worker, admin, tc.client, tc.worker, tc.admin)
		}
	}
}
