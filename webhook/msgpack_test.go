package webhook_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/glimpse-go/glimpse/webhook"
)

// plainRequest has Request's fields and tags but not its registered
// encoder: msgpack encodes it by reflection, as it encoded Request before.
type plainRequest webhook.Request

// encodeBoth encodes r with Request's encoder and by reflection, with
// the task payloads' encoder options.
func encodeBoth(t *testing.T, r webhook.Request) (fast, reflective []byte) {
	t.Helper()
	enc := func(v any) []byte {
		var buf bytes.Buffer
		e := msgpack.NewEncoder(&buf)
		e.UseCompactInts(true)
		if err := e.Encode(v); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	// In a slice, as a chunk carries it (addressable), and alone.
	fast = enc(r)
	if inSlice := enc([]webhook.Request{r}); !bytes.Equal(inSlice[1:], fast) {
		t.Fatalf("in a slice %x, alone %x", inSlice[1:], fast)
	}
	return fast, enc(plainRequest(r))
}

// FuzzRequestEncoding: the hand-written msgpack of a Request is msgpack's
// own, byte for byte when the params' order is not in question (one
// key), and decodes to the same Request whatever the params.
func FuzzRequestEncoding(f *testing.F) {
	f.Add("http://127.0.0.1:9/hook", "", "i", "1", "", "", "", "", 0, int64(0))
	f.Add("https://h/x", "GET", "a", "x\x00y", "b", "form", `{"k":[1]}`, "t1", 3, int64(time.Second))
	f.Add("", "POST", "", "", "c", "json", "", "", -1, int64(-5))
	f.Fuzz(func(t *testing.T, url, method, k1, v1, k2, enc, js, taskID string, attempt int, timeout int64) {
		r := webhook.Request{URL: url, Method: method, Encoding: webhook.Encoding(enc), TaskID: taskID, Queue: taskID,
			Attempt: attempt, Timeout: time.Duration(timeout)}
		if js != "" {
			r.JSON = json.RawMessage(js)
		}
		if k1 != "" {
			r.Params = map[string][]string{k1: {v1, v1 + "2"}}
		}
		fast, reflective := encodeBoth(t, r)
		if !bytes.Equal(fast, reflective) {
			t.Fatalf("%+v: encoded %x, msgpack's own %x", r, fast, reflective)
		}
		if k2 != "" && k2 != k1 {
			if r.Params == nil {
				r.Params = map[string][]string{}
			}
			r.Params[k2] = nil
			r.Params["z"+k2] = []string{}
			fast, _ = encodeBoth(t, r)
		}
		var back plainRequest
		if err := msgpack.Unmarshal(fast, &back); err != nil {
			t.Fatal(err)
		}
		if want := plainRequest(r); !reflect.DeepEqual(back, want) {
			t.Fatalf("decoded %+v, want %+v", back, want)
		}
	})
}

// TestTaskPayloadShapeUnchanged: the registered encoder leaves the shape
// of Request that a task payload carries as it was (a struct of its
// fields, not a self-encoding leaf): tasks already stored, and workers of
// the version before, still agree with the gateway's payloads.
func TestTaskPayloadShapeUnchanged(t *testing.T) {
	p, err := webhook.Deliver.TaskPayload(webhook.Request{URL: "http://127.0.0.1:9/hook", Params: map[string][]string{"i": {"1"}}})
	if err != nil {
		t.Fatal(err)
	}
	const shape = "struct{attempt int; encoding string; json []uint8; method string; params map[string][]string; queue string; task_id string; timeout int64; url string}"
	if !strings.Contains(string(p), shape) {
		t.Fatalf("payload %q lacks Request's shape %q", p, shape)
	}
}
