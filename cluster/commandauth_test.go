package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/pool"
)

// testGate is a command gate with key whose WARN records go to log.
func testGate(key *auth.Key, log *bytes.Buffer) *commandGate {
	return newCommandGate(key, slog.New(slog.NewTextHandler(log, nil)))
}

func newKey(t testing.TB) *auth.Key {
	t.Helper()
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sealed(t testing.TB, k *auth.Key, cmd pool.Command) []byte {
	t.Helper()
	data, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	out, err := k.SealJSON(auth.PurposeCommand, data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCommandGateRefuses: with a key, only a command sealed with it, fresh
// and not claiming to live too long, is let through, once; a duplicate is
// not counted as a refusal; everything else is counted.
func TestCommandGateRefuses(t *testing.T) {
	k, other := newKey(t), newKey(t)
	var log bytes.Buffer
	g := testGate(k, &log)
	quit := pool.NewCommand(pool.CommandQuit, time.Minute)
	if _, err := g.accept(sealed(t, k, quit), "test", "here"); err != nil {
		t.Fatalf("a sealed quit: %v", err)
	}
	if _, err := g.accept(sealed(t, k, quit), "test", "here"); !errors.Is(err, errDuplicate) {
		t.Fatalf("the same quit again: %v, want errDuplicate", err)
	}
	if n := g.rejectedCount(); n != 0 {
		t.Fatalf("rejected %d after a good command and its duplicate, want 0", n)
	}
	plain, _ := json.Marshal(pool.NewCommand(pool.CommandQuit, time.Minute))
	long := pool.NewCommand(pool.CommandQuit, time.Minute)
	long.Expires = long.Sent.Add(48 * time.Hour)
	future := pool.NewCommand(pool.CommandQuit, time.Hour)
	future.Sent = future.Sent.Add(30 * time.Minute)
	expired := pool.NewCommand(pool.CommandQuit, time.Minute)
	expired.Sent, expired.Expires = expired.Sent.Add(-time.Hour), expired.Sent.Add(-time.Second)
	for name, tc := range map[string]struct {
		data []byte
		want error
	}{
		"unsigned":        {plain, auth.ErrUnsigned},
		"other key":       {sealed(t, other, pool.NewCommand(pool.CommandQuit, time.Minute)), auth.ErrWrongKey},
		"tampered":        {tamper(t, sealed(t, k, pool.NewCommand(pool.CommandPing, time.Minute))), auth.ErrForged},
		"expired":         {sealed(t, k, expired), auth.ErrExpired},
		"sent in future":  {sealed(t, k, future), auth.ErrTooFresh},
		"too long-lived":  {sealed(t, k, long), nil},
		"malformed":       {[]byte(`{"glimpse_sealed":"v1","body":5}`), auth.ErrMalformed},
		"not even json":   {[]byte("quit"), auth.ErrUnsigned},
		"no key on quit?": {nil, auth.ErrUnsigned},
	} {
		_, err := g.accept(tc.data, "test", "here")
		if err == nil || errors.Is(err, errDuplicate) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: accept: %v, want a refusal (%v)", name, err, tc.want)
		}
	}
	if n := g.rejectedCount(); n != 9 {
		t.Errorf("rejected %d, want 9", n)
	}
	if !strings.Contains(log.String(), "command refused") || !strings.Contains(log.String(), "path=test source=here") {
		t.Errorf("no WARN naming the path and source:\n%s", log.String())
	}
}

// tamper makes a sealed ping into a quit with the ping's MAC.
func tamper(t testing.TB, data []byte) []byte {
	t.Helper()
	var env struct {
		Sealed string `json:"glimpse_sealed"`
		Key    string `json:"key"`
		Body   []byte `json:"body"`
		MAC    []byte `json:"mac"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	env.Body, _ = json.Marshal(pool.NewCommand(pool.CommandQuit, time.Minute))
	out, _ := json.Marshal(env)
	return out
}

// TestCommandGateWithoutKey: with no key, plain commands pass as before, a
// sealed one cannot be checked and is refused, and a command is still
// obeyed once.
func TestCommandGateWithoutKey(t *testing.T) {
	var log bytes.Buffer
	g := testGate(nil, &log)
	ping, _ := json.Marshal(pool.NewCommand(pool.CommandPing, time.Minute))
	if _, err := g.accept(ping, "test", "here"); err != nil {
		t.Fatalf("a plain ping without a key: %v", err)
	}
	if _, err := g.accept(ping, "test", "here"); !errors.Is(err, errDuplicate) {
		t.Fatalf("the same ping again: %v, want errDuplicate", err)
	}
	if _, err := g.accept(sealed(t, newKey(t), pool.NewCommand(pool.CommandPing, time.Minute)), "test", "here"); !errors.Is(err, auth.ErrNoKey) {
		t.Fatalf("a sealed ping without a key: %v, want ErrNoKey", err)
	}
	if data, err := g.sealReply(pool.Reply{Command: "x", Name: "ping", Worker: "w"}); err != nil || !json.Valid(data) || bytes.Contains(data, []byte("glimpse_sealed")) {
		t.Fatalf("a reply without a key: %s, %v; want plain JSON", data, err)
	}
}

// TestCommandGateRateLimitsWarnings: a flood of forged commands is counted
// in full but logged a few times per window.
func TestCommandGateRateLimitsWarnings(t *testing.T) {
	var log bytes.Buffer
	g := testGate(newKey(t), &log)
	for range 1000 {
		g.accept([]byte(`{"id":"x","name":"quit"}`), "test", "here")
	}
	if n := g.rejectedCount(); n != 1000 {
		t.Errorf("rejected %d, want 1000", n)
	}
	if n := strings.Count(log.String(), `msg="command refused"`); n != refusalBurst {
		t.Errorf("%d WARN records for 1000 refusals in one window, want %d", n, refusalBurst)
	}
}

// FuzzCommandGate: whatever bytes arrive on a command path, the gate never
// panics, and with a key it lets through only the commands the test
// sealed, unchanged; the others are counted as refused.
func FuzzCommandGate(f *testing.F) {
	k := newKey(f)
	sent := map[string]pool.Command{}
	for _, cmd := range []pool.Command{
		pool.NewCommand(pool.CommandPing, time.Minute),
		pool.NewCommand(pool.CommandQuit, time.Minute, "w-*"),
		{ID: "abc", Name: pool.CommandCancel, Map: "00ff", Sent: time.Now(), Expires: time.Now().Add(time.Hour)},
	} {
		sent[cmd.ID] = cmd
		f.Add(sealed(f, k, cmd))
		plain, _ := json.Marshal(cmd)
		f.Add(plain)
	}
	f.Add(tamper(f, sealed(f, k, pool.NewCommand(pool.CommandPing, time.Minute))))
	f.Add([]byte(`{"glimpse_sealed":"v1","key":"","body":"","mac":""}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var log bytes.Buffer
		keyless := testGate(nil, &log)
		keyless.accept(data, "fuzz", "here") // must not panic
		g := testGate(k, &log)
		cmd, err := g.accept(data, "fuzz", "here")
		if err != nil {
			if g.rejectedCount() != 1 {
				t.Fatalf("refused %q (%v) but counted %d", data, err, g.rejectedCount())
			}
			return
		}
		want, ok := sent[cmd.ID]
		if !ok || want.Name != cmd.Name || !want.Expires.Equal(cmd.Expires) || want.Map != cmd.Map {
			t.Fatalf("accepted %q as %+v: not a command the key's holder sealed", data, cmd)
		}
	})
}
