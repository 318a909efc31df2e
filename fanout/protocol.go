package fanout

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/glimpse-go/glimpse/gearman"
)

// Gearman functions of the protocol (gearhorn's names).
const (
	FuncSubscribe   = "subscribe_fanout"
	FuncUnsubscribe = "unsubscribe_fanout"
	FuncFanout      = "fanout"
)

// MatchmakingTopic is the topic every fanout worker subscribes itself to,
// with its own id; a "reload" message sent to it makes the other fanout
// workers re-read the store.
const MatchmakingTopic = "__matchmaking"

// maxFunctionSize is gearmand's GEARMAN_FUNCTION_MAX_SIZE; a longer queue
// name would be refused at submit time, for every fanout, so it is refused
// at subscribe time instead.
const maxFunctionSize = 512

// SubscribeRequest is the payload of subscribe_fanout and
// unsubscribe_fanout.
type SubscribeRequest struct {
	Topic    string `json:"topic"`
	ClientID string `json:"client_id"`
}

// Request is the payload of a fanout job.
//
// Payload is what each subscriber gets as its job data: the text of a JSON
// string (gearhorn's form, {"payload": "hello"} sends hello), or the JSON
// text itself for any other JSON value ({"payload": {"cmd": "ping"}} sends
// {"cmd": "ping"}). Collect and Timeout are this package's extensions;
// gearhorn ignores keys it does not know, and so does this package.
type Request struct {
	Topic      string          `json:"topic"`
	Payload    json.RawMessage `json:"payload"`
	Unique     string          `json:"unique,omitempty"`
	Background bool            `json:"background,omitempty"`
	Collect    bool            `json:"collect,omitempty"`
	// Timeout, in seconds, shortens the per-copy wait of a foreground
	// fanout below config.Fanout.CopyTimeout (never above it), so that a
	// caller with a deadline (glimpse-cluster ping -t) is not outwaited.
	Timeout float64 `json:"timeout,omitempty"`
}

// Marshal encodes the request as a fanout job's payload.
func (r Request) Marshal() ([]byte, error) { return json.Marshal(r) }

// StringPayload makes a Payload that delivers the text s as it is.
func StringPayload(s string) json.RawMessage {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

// Collected is the result of a fanout with "collect": true: each
// subscriber's reply, by client id. A reply that is valid JSON is kept as
// it is (a worker's stats object stays an object); any other UTF-8 reply
// becomes a JSON string; a reply that is not UTF-8 goes to Binary, base64
// encoded, so that no byte is lost. (JSON replies are re-encoded compactly.) Errors holds, by client id, why a
// subscriber gave no reply (timeout, exception text, no worker).
type Collected struct {
	Replies map[string]json.RawMessage `json:"replies"`
	Binary  map[string]string          `json:"binary,omitempty"`
	Errors  map[string]string          `json:"errors"`
}

// CopyError is one element of the WORK_EXCEPTION of a foreground fanout
// whose copies did not all succeed; on the wire it is gearhorn's pair,
// a two-element JSON array [client_id, error].
type CopyError struct {
	ClientID string
	Err      string
}

// MarshalJSON encodes the pair as [client_id, error].
func (e CopyError) MarshalJSON() ([]byte, error) { return json.Marshal([2]string{e.ClientID, e.Err}) }

// UnmarshalJSON decodes [client_id, error].
func (e *CopyError) UnmarshalJSON(b []byte) error {
	// A slice, not a [2]string: encoding/json fills an array from a
	// shorter list and drops the rest of a longer one without a word.
	var p []string
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if len(p) != 2 {
		return fmt.Errorf("fanout: a copy error is a [client_id, error] pair, not %d strings", len(p))
	}
	e.ClientID, e.Err = p[0], p[1]
	return nil
}

// ParseCopyErrors decodes the WORK_EXCEPTION data of a fanout that reached
// its subscribers but not all of them successfully. It fails for other
// exceptions, such as a malformed request.
func ParseCopyErrors(data []byte) ([]CopyError, error) {
	var errs []CopyError
	if err := json.Unmarshal(data, &errs); err != nil {
		return nil, fmt.Errorf("fanout: not a list of [client_id, error] pairs: %w", err)
	}
	return errs, nil
}

// ErrOverLimit is matched (errors.Is) by every *LimitError.
var ErrOverLimit = errors.New("over a fanout limit")

// LimitError is a fanout or a subscription refused by one of the fanout
// worker's limits (config.Fanout.MaxPayload, MaxSubscribers) before
// anything was copied or stored.
type LimitError struct {
	Function string // FuncFanout or FuncSubscribe
	Key      string // the limit's config key in [fanout]: "max_payload" or "max_subscribers"
	Limit    int
	Size     int    // the payload's bytes, or the topic's subscribers
	Topic    string // the fanout's or subscription's topic
	ClientID string // the subscriber refused (subscribe_fanout only)
}

func (e *LimitError) Error() string {
	where := fmt.Sprintf("(%s in [fanout])", e.Key)
	if e.Key == keyMaxPayload {
		return fmt.Sprintf("%s: payload of %d bytes for topic %q is over the limit of %d %s",
			e.Function, e.Size, e.Topic, e.Limit, where)
	}
	if e.ClientID != "" {
		return fmt.Sprintf("%s: topic %q has %d subscribers, the limit %s: client %q refused",
			e.Function, e.Topic, e.Size, where, e.ClientID)
	}
	return fmt.Sprintf("%s: topic %q has %d subscribers, over the limit of %d %s",
		e.Function, e.Topic, e.Size, e.Limit, where)
}

// Is makes errors.Is(err, ErrOverLimit) true.
func (e *LimitError) Is(target error) bool { return target == ErrOverLimit }

// The config keys of the limits, as LimitError names them.
const (
	keyMaxPayload     = "max_payload"
	keyMaxSubscribers = "max_subscribers"
)

func parseSubscribe(function string, data []byte) (Subscription, error) {
	m, err := parseObject(function, data)
	if err != nil {
		return Subscription{}, err
	}
	var sub Subscription
	if sub.Topic, err = name(function, m, "topic"); err != nil {
		return Subscription{}, err
	}
	if sub.ClientID, err = name(function, m, "client_id"); err != nil {
		return Subscription{}, err
	}
	if n := len(sub.Queue()); n > maxFunctionSize {
		return Subscription{}, fmt.Errorf(`%s: payload: queue name "<topic>_<client_id>" is %d bytes, over gearmand's %d`, function, n, maxFunctionSize)
	}
	return sub, nil
}

func parseFanout(data []byte) (Request, error) {
	const fn = FuncFanout
	m, err := parseObject(fn, data)
	if err != nil {
		return Request{}, err
	}
	var r Request
	if r.Topic, err = name(fn, m, "topic"); err != nil {
		return Request{}, err
	}
	p, ok := m["payload"]
	if !ok {
		return Request{}, fmt.Errorf(`%s: payload: missing "payload"`, fn)
	}
	if string(p) == "null" {
		return Request{}, fmt.Errorf(`%s: payload: "payload" is null`, fn)
	}
	r.Payload = p
	if u, ok := m["unique"]; ok && string(u) != "null" {
		// gearhorn takes a missing and a null unique alike: no unique id.
		if err := json.Unmarshal(u, &r.Unique); err != nil {
			return Request{}, fmt.Errorf(`%s: payload: "unique" must be a string, got %s`, fn, kind(u))
		}
		if len(r.Unique) > gearman.MaxUniqueSize {
			return Request{}, fmt.Errorf(`%s: payload: "unique" is %d bytes, over gearmand's %d`, fn, len(r.Unique), gearman.MaxUniqueSize)
		}
		if bytes.IndexByte([]byte(r.Unique), 0) >= 0 {
			return Request{}, fmt.Errorf(`%s: payload: "unique" contains a NUL byte`, fn)
		}
	}
	if r.Background, err = flag(fn, m, "background"); err != nil {
		return Request{}, err
	}
	if r.Collect, err = flag(fn, m, "collect"); err != nil {
		return Request{}, err
	}
	if t, ok := m["timeout"]; ok && string(t) != "null" {
		if err := json.Unmarshal(t, &r.Timeout); err != nil || !(r.Timeout > 0) {
			return Request{}, fmt.Errorf(`%s: payload: "timeout" must be a positive number of seconds, got %s`, fn, t)
		}
	}
	if r.Background && r.Collect {
		return Request{}, fmt.Errorf(`%s: payload: "collect" needs a foreground fanout, not "background": true`, fn)
	}
	return r, nil
}

// payloadBytes is what each subscriber receives.
func (r Request) payloadBytes() []byte {
	var s string
	if len(r.Payload) > 0 && r.Payload[0] == '"' && json.Unmarshal(r.Payload, &s) == nil {
		return []byte(s)
	}
	return bytes.TrimSpace(r.Payload)
}

func parseObject(function string, data []byte) (map[string]json.RawMessage, error) {
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return nil, fmt.Errorf("%s: payload is not JSON: %v", function, err)
	}
	if k := kind(data); k != "object" {
		return nil, fmt.Errorf("%s: payload: want a JSON object, got %s", function, k)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: payload: %v", function, err)
	}
	return m, nil
}

// name reads a required topic or client id: a non-empty string with no
// white space or control characters, since gearmand's admin protocol
// separates function names with spaces, and the queue could not be
// checked or pruned.
func name(function string, m map[string]json.RawMessage, key string) (string, error) {
	raw, ok := m[key]
	if !ok {
		return "", fmt.Errorf("%s: payload: missing %q", function, key)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s: payload: %q must be a string, got %s", function, key, kind(raw))
	}
	if err := checkName(s); err != nil {
		return "", fmt.Errorf("%s: payload: %q: %w", function, key, err)
	}
	return s, nil
}

func checkName(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%s contains white space or a control character", strconv.Quote(s))
		}
	}
	return nil
}

func flag(function string, m map[string]json.RawMessage, key string) (bool, error) {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, fmt.Errorf("%s: payload: %q must be true or false, got %s", function, key, kind(raw))
	}
	return b, nil
}

// kind names the JSON type of a valid JSON text, for error messages.
func kind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// collectReply files one subscriber's reply into c.
func (c *Collected) add(clientID string, reply []byte) {
	switch {
	case json.Valid(reply):
		c.Replies[clientID] = json.RawMessage(bytes.TrimSpace(reply))
	case utf8.Valid(reply):
		s, _ := json.Marshal(string(reply))
		c.Replies[clientID] = s
	default:
		if c.Binary == nil {
			c.Binary = map[string]string{}
		}
		c.Binary[clientID] = base64.StdEncoding.EncodeToString(reply)
	}
}
