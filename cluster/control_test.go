package cluster

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/pool"
)

func TestParseCommandRefusesMalformedJSON(t *testing.T) {
	if _, err := parseCommand([]byte("{")); err == nil || !strings.Contains(err.Error(), "malformed command") {
		t.Errorf("malformed JSON: %v", err)
	}
}

// FuzzParseCommand: any bytes give a valid command or an error, never a
// panic, and what is accepted survives a round trip.
func FuzzParseCommand(f *testing.F) {
	good, _ := json.Marshal(pool.NewCommand(pool.CommandPing, time.Minute, "w-*"))
	f.Add(good)
	f.Add([]byte(`{"id":"x","name":"quit","expires":"2030-01-01T00:00:00Z","targets":["["]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseCommand(data)
		if err != nil {
			return
		}
		again, _ := json.Marshal(c)
		if _, err := parseCommand(again); err != nil {
			t.Fatalf("accepted %q, but not its re-encoding: %v", data, err)
		}
	})
}
