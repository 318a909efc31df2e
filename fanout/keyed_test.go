package fanout

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// With a cluster key, the fanout worker takes only requests a key holder
// sealed: an outsider's unsubscribe_fanout (the C gearman tool's, as in
// the attack) leaves the worker subscribed, an outsider's fanout
// makes no copy, and a request sealed with another key is refused too.
// Sealed requests work as before.
func TestKeyedFanoutRefusesUnsealedRequests(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	key, keyFile := writeKey(t)
	w, err := NewWorker(config.Client{JobServers: []string{g.Addr()}, KeyFile: keyFile}, testConfig(sqlitePath(t)))
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	defer func() { w.Close(); <-ran }()
	c := newClient(t, g.Addr())
	sealed := func(k *auth.Key, v any) []byte {
		data, _ := json.Marshal(v)
		out, _ := k.SealJSON(auth.PurposeFanout, data)
		return out
	}
	sub := map[string]string{"topic": "cmds", "client_id": "w1"}

	res, err := call(t, c, FuncSubscribe, sub)
	got := exception(t, res, err)
	if !strings.Contains(got, "not signed") || len(storeSubscribers(t, w.store, "cmds")) != 0 {
		t.Fatalf("an unsealed subscribe: exception %q, subscribers %v; want refused, none", got, storeSubscribers(t, w.store, "cmds"))
	}
	if _, err := call(t, c, FuncSubscribe, sealed(key, sub)); err != nil {
		t.Fatalf("a sealed subscribe: %v", err)
	}
	gearmanCLI(t, g.Addr(), "-b", "-f", FuncUnsubscribe, `{"topic":"cmds","client_id":"w1"}`)
	eventually(t, "the outsider's background unsubscribe taken", func() bool {
		st := functionStatus(t, g.Addr(), FuncUnsubscribe)
		return st.Queued == 0 && st.Running == 0
	})
	other, _ := auth.GenerateKey()
	res, err = call(t, c, FuncUnsubscribe, sealed(other, sub))
	got = exception(t, res, err)
	if !strings.Contains(got, "another cluster key") {
		t.Errorf("an unsubscribe sealed with another key: exception %q", got)
	}
	if ids := storeSubscribers(t, w.store, "cmds"); !sameStrings(ids, []string{"w1"}) {
		t.Fatalf("after an outsider's unsubscribes the topic has %v, want [w1]", ids)
	}

	req := Request{Topic: "cmds", Payload: StringPayload("quit"), Background: true}
	res, err = call(t, c, FuncFanout, req)
	exception(t, res, err)
	if st := functionStatus(t, g.Addr(), "cmds_w1"); st.Queued != 0 {
		t.Errorf("an unsealed fanout queued %d copies, want 0", st.Queued)
	}
	if res, err := call(t, c, FuncFanout, sealed(key, req)); err != nil || string(res) != "1" {
		t.Errorf("a sealed fanout = %q, %v; want 1 copy", res, err)
	}
	if n := w.Refused(); n < 4 {
		t.Errorf("Refused() = %d, want at least 4 (subscribe, 2 unsubscribes, fanout)", n)
	}
}

func writeKey(t *testing.T) (*auth.Key, string) { return testenv.KeyFile(t) }
