package fanout

import (
	"encoding/json"
	"testing"
)

// FuzzParseRequests feeds arbitrary payloads to the three functions'
// parsers: each must answer with a request or an error, never panic, and
// a fanout request it accepts must survive a round trip.
func FuzzParseRequests(f *testing.F) {
	f.Add([]byte(`{"topic":"officememos","payload":"hello","unique":"u1"}`))
	f.Add([]byte(`{"topic":"t","payload":{"cmd":"ping"},"collect":true,"timeout":1.5}`))
	f.Add([]byte(`{"topic":"officememos","client_id":"bob"}`))
	f.Add([]byte(`{"topic":null,"payload":null}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		parseSubscribe(FuncSubscribe, data)
		r, err := parseFanout(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", data, err)
		}
		if _, err := parseFanout(again); err != nil {
			t.Fatalf("accepted %q, but not its re-encoding %q: %v", data, again, err)
		}
	})
}

// A copy error is exactly a [client_id, error] pair: a list of another
// length is refused, not cut or padded.
func TestCopyErrorIsAPair(t *testing.T) {
	if errs, err := ParseCopyErrors([]byte(`[["w1","gone"]]`)); err != nil || len(errs) != 1 || errs[0].ClientID != "w1" || errs[0].Err != "gone" {
		t.Fatalf("a pair: %+v, %v", errs, err)
	}
	for _, bad := range []string{`[["w1"]]`, `[["w1","gone","extra"]]`, `[[]]`} {
		if errs, err := ParseCopyErrors([]byte(bad)); err == nil {
			t.Errorf("ParseCopyErrors(%s) = %+v, want an error", bad, errs)
		}
	}
}
