package fanout

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// A fanout whose payload is over max_payload is refused before any copy
// is made: the caller gets an exception naming the limit and the size,
// and gearmand holds no copy for the subscribers (who have no worker, so
// a copy would stay queued and be counted).
func TestOversizeFanoutMakesNoCopies(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	cfg := testConfig(sqlitePath(t))
	cfg.MaxPayload = 1024
	startWorker(t, []string{g.Addr()}, cfg)
	c := newClient(t, g.Addr())
	subscribe(t, c, "big", "a")
	subscribe(t, c, "big", "b")

	for _, bg := range []bool{true, false} {
		r := Request{Topic: "big", Payload: StringPayload(strings.Repeat("x", 1025)), Background: bg}
		res, err := call(t, c, FuncFanout, r)
		got := exception(t, res, err)
		for _, want := range []string{"1025 bytes", "limit of 1024", "max_payload in [fanout]", `"big"`} {
			if !strings.Contains(got, want) {
				t.Errorf("background=%v: exception %q does not say %q", bg, got, want)
			}
		}
	}
	for _, q := range []string{"big_a", "big_b"} {
		if st := functionStatus(t, g.Addr(), q); st.Queued != 0 {
			t.Errorf("%s has %d copies queued after refused fanouts, want 0", q, st.Queued)
		}
	}
	// At the limit it goes: both copies queue, which shows they are counted.
	r := Request{Topic: "big", Payload: StringPayload(strings.Repeat("x", 1024)), Background: true}
	if res, err := call(t, c, FuncFanout, r); err != nil || string(res) != "2" {
		t.Fatalf("fanout at the limit = %q, %v; want 2", res, err)
	}
	for _, q := range []string{"big_a", "big_b"} {
		if st := functionStatus(t, g.Addr(), q); st.Queued != 1 {
			t.Errorf("%s has %d copies queued, want 1", q, st.Queued)
		}
	}
}

// The subscriber after max_subscribers is refused with an exception and a
// WARN record naming the topic and the client; the first ones, and one
// of them subscribing again, are not, and the fanout reaches exactly them.
func TestSubscriberLimit(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	cfg := testConfig(sqlitePath(t))
	cfg.MaxSubscribers = 3
	logs := testenv.NewOutput()
	startWorker(t, []string{g.Addr()}, cfg, WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	c := newClient(t, g.Addr())
	var subs []*subscriber
	for _, id := range []string{"s1", "s2", "s3"} {
		subs = append(subs, serve(t, g.Addr(), "memos_"+id, nil))
		subscribe(t, c, "memos", id)
	}
	serve(t, g.Addr(), "memos_s4", nil)

	err := Subscribe(testenv.Context(t), c, "memos", "s4")
	var ex *gearman.JobException
	if !errors.As(err, &ex) {
		t.Fatalf("the 4th subscribe = %v, want a WORK_EXCEPTION", err)
	}
	for _, want := range []string{`topic "memos" has 3 subscribers`, "max_subscribers in [fanout]", `client "s4" refused`} {
		if !strings.Contains(string(ex.Data), want) {
			t.Errorf("exception %q does not say %q", ex.Data, want)
		}
	}
	for _, want := range []string{"level=WARN", "subscription refused", "topic=memos", "client_id=s4"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not say %q:\n%s", want, logs)
		}
	}
	subscribe(t, c, "memos", "s2") // again: not a new subscriber

	if n := fanoutCount(t, c, "memos", "hello"); n != 3 {
		t.Fatalf("fanout = %d, want 3", n)
	}
	for i, s := range subs {
		if got := s.got(); len(got) != 1 || got[0] != "hello" {
			t.Errorf("s%d got %q, want [hello]", i+1, got)
		}
	}
}

// A topic over max_subscribers (the limit was lowered after the
// subscriptions were made) gets no fanout at all: no copy is queued.
func TestFanoutToTopicOverLimit(t *testing.T) {
	t.Parallel()
	store := sqlitePath(t)
	g1 := testenv.Gearmand(t)
	startWorker(t, []string{g1.Addr()}, testConfig(store))
	c1 := newClient(t, g1.Addr())
	for _, id := range []string{"s1", "s2", "s3"} {
		subscribe(t, c1, "memos", id)
	}

	g2 := testenv.Gearmand(t)
	cfg := testConfig(store)
	cfg.MaxSubscribers = 2
	startWorker(t, []string{g2.Addr()}, cfg)
	c2 := newClient(t, g2.Addr())
	res, err := call(t, c2, FuncFanout, Request{Topic: "memos", Payload: StringPayload("x"), Background: true})
	if got := exception(t, res, err); !strings.Contains(got, `topic "memos" has 3 subscribers, over the limit of 2 (max_subscribers in [fanout])`) {
		t.Errorf("exception %q", got)
	}
	for _, id := range []string{"s1", "s2", "s3"} {
		if st := functionStatus(t, g2.Addr(), "memos_"+id); st.Queued != 0 {
			t.Errorf("memos_%s has %d copies queued, want 0", id, st.Queued)
		}
	}
}
