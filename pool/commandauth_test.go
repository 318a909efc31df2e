package pool

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/auth"
)

func sealReplyForTest(t *testing.T, k *auth.Key, r Reply) json.RawMessage {
	t.Helper()
	data, _ := json.Marshal(r)
	out, err := k.SealJSON(auth.PurposeReply, data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCollectedRepliesChecksTheKey: with a key, only a sealed reply to this
// very command counts as a worker's answer, once; an unsigned one, one
// sealed with another key, and an old reply (to another command) replayed
// are error replies that say so.
func TestCollectedRepliesChecksTheKey(t *testing.T) {
	k, _ := auth.GenerateKey()
	other, _ := auth.GenerateKey()
	cmd := NewCommand(CommandPing, time.Minute)
	old := NewCommand(CommandPing, time.Minute)
	good := Reply{Command: cmd.ID, Name: cmd.Name, Worker: "w1", Stats: &WorkerStats{WorkerID: "w1"}}
	plain, _ := json.Marshal(Reply{Command: cmd.ID, Name: cmd.Name, Worker: "w2"})
	got := fanoutCollected{Replies: map[string]json.RawMessage{
		"w1":      sealReplyForTest(t, k, good),
		"w1-copy": sealReplyForTest(t, k, good), // a relay's duplicate: one answer
		"w2":      plain,
		"w3":      sealReplyForTest(t, other, Reply{Command: cmd.ID, Name: cmd.Name, Worker: "w3"}),
		"w4":      sealReplyForTest(t, k, Reply{Command: old.ID, Name: old.Name, Worker: "w4"}),
		"w5":      sealReplyForTest(t, k, Reply{Command: cmd.ID, Worker: "w5"}), // "ignored"
	}}
	data, _ := json.Marshal(got)
	replies, err := collectedReplies(k, cmd, data)
	if err != nil {
		t.Fatal(err)
	}
	answers, refused := map[string]bool{}, map[string]string{}
	for _, r := range replies {
		if r.Error == "" {
			answers[r.Worker] = true
		} else {
			refused[r.Worker] = r.Error
		}
	}
	if len(answers) != 1 || !answers["w1"] || len(replies) != 4 {
		t.Errorf("replies %+v: want w1's answer once and three refusals", replies)
	}
	for id, why := range map[string]string{"w2": "not signed", "w3": "another cluster key", "w4": "another command"} {
		if !strings.HasPrefix(refused[id], UnauthenticatedReply) || !strings.Contains(refused[id], why) {
			t.Errorf("%s: error %q, want %q ... %q", id, refused[id], UnauthenticatedReply, why)
		}
	}
	// Without a key, plain replies count as before.
	got.Replies = map[string]json.RawMessage{"w2": plain}
	data, _ = json.Marshal(got)
	if replies, err := collectedReplies(nil, cmd, data); err != nil || len(replies) != 1 || replies[0].Error != "" {
		t.Errorf("keyless: %+v, %v; want w2's answer", replies, err)
	}
}

func TestValidateRefusesLongLivedCommands(t *testing.T) {
	if err := NewCommand(CommandPing, MaxCommandTTL+time.Minute).Validate(); err == nil || !strings.Contains(err.Error(), "MaxCommandTTL") {
		t.Errorf("a command living past MaxCommandTTL: %v", err)
	}
	if err := NewCommand(CommandPing, MaxCommandTTL).Validate(); err != nil {
		t.Errorf("a command living MaxCommandTTL: %v", err)
	}
}
