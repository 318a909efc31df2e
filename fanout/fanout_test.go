package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/testenv"
)

// gearhorn's README example, with the C gearman command as the client and
// as the subscribers: bob and alice subscribe to officememos, a fanout of
// "hello" lands on both, and after alice unsubscribes only bob gets the
// next one.
func TestReadmeExampleWithCGearman(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	startWorker(t, []string{g.Addr()}, testConfig(sqlitePath(t)))
	dir := t.TempDir()

	for _, who := range []string{"bob", "alice"} {
		out := gearmanCLI(t, g.Addr(), "-f", "subscribe_fanout", `{"topic":"officememos","client_id":"`+who+`"}`)
		if strings.TrimSpace(out) != "" {
			t.Errorf("subscribe %s printed %q, want nothing (gearhorn completes with no data)", who, out)
		}
		// Each C worker appends its job to a file and echoes it back.
		cWorker(t, g.Addr(), "officememos_"+who, "tee", "-a", filepath.Join(dir, who))
	}

	out := gearmanCLI(t, g.Addr(), "-f", "fanout", `{"topic":"officememos","payload":"hello"}`)
	if strings.TrimSpace(out) != "2" {
		t.Fatalf("fanout printed %q, want 2", out)
	}
	for _, who := range []string{"bob", "alice"} {
		if got, _ := os.ReadFile(filepath.Join(dir, who)); string(got) != "hello" {
			t.Errorf("%s got %q, want hello", who, got)
		}
	}

	gearmanCLI(t, g.Addr(), "-f", "unsubscribe_fanout", `{"topic":"officememos","client_id":"alice"}`)
	out = gearmanCLI(t, g.Addr(), "-f", "fanout", `{"topic":"officememos","payload":"bye"}`)
	if strings.TrimSpace(out) != "1" {
		t.Fatalf("fanout after alice left printed %q, want 1", out)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "bob")); string(got) != "hellobye" {
		t.Errorf("bob got %q, want hellobye", got)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "alice")); string(got) != "hello" {
		t.Errorf("alice got %q after unsubscribing, want only hello", got)
	}
}

// gearhorn never registered unsubscribe_fanout, and its store had no
// unsubscribe: every unsubscribe failed. Here it works, and is idempotent.
func TestUnsubscribe(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	w := startWorker(t, []string{g.Addr()}, testConfig(sqlitePath(t)))
	c := newClient(t, g.Addr())
	serve(t, g.Addr(), "news_bob", nil)
	serve(t, g.Addr(), "news_carol", nil)
	subscribe(t, c, "news", "bob")
	subscribe(t, c, "news", "carol")
	if n := fanoutCount(t, c, "news", "x"); n != 2 {
		t.Fatalf("fanout = %d, want 2", n)
	}
	unsubscribe(t, c, "news", "bob")
	if n := fanoutCount(t, c, "news", "x"); n != 1 {
		t.Fatalf("fanout after unsubscribe = %d, want 1", n)
	}
	if got := storeSubscribers(t, w.store, "news"); !sameStrings(got, []string{"carol"}) {
		t.Fatalf("store has %q, want [carol]", got)
	}
	unsubscribe(t, c, "news", "bob")  // again: not subscribed, still fine
	unsubscribe(t, c, "other", "bob") // a topic nobody has
	unsubscribe(t, c, "news", "carol")
	if n := fanoutCount(t, c, "news", "x"); n != 0 {
		t.Fatalf("fanout with no subscribers = %d, want 0", n)
	}
}

func TestSubscribeTwiceKeepsOneRow(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	w := startWorker(t, []string{g.Addr()}, testConfig(sqlitePath(t)))
	c := newClient(t, g.Addr())
	sub := serve(t, g.Addr(), "memos_bob", nil)
	subscribe(t, c, "memos", "bob")
	subscribe(t, c, "memos", "bob")
	if got := storeSubscribers(t, w.store, "memos"); !sameStrings(got, []string{"bob"}) {
		t.Fatalf("store has %q, want one bob", got)
	}
	if n := fanoutCount(t, c, "memos", "hi"); n != 1 {
		t.Fatalf("fanout = %d, want 1", n)
	}
	if got := sub.got(); len(got) != 1 {
		t.Fatalf("bob got %q, want one copy", got)
	}
}

// A fanout worker restarted on the same SQLite file keeps its subscribers.
func TestRestartKeepsSubscribers(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	path := sqlitePath(t)
	c := newClient(t, g.Addr())
	sub := serve(t, g.Addr(), "memos_bob", nil)

	w1, err := NewWorker(config.Client{JobServers: []string{g.Addr()}}, testConfig(path))
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- w1.Run() }()
	subscribe(t, c, "memos", "bob")
	if err := w1.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-ran; !errors.Is(err, ErrWorkerClosed) {
		t.Fatalf("Run() = %v, want ErrWorkerClosed", err)
	}
	waitServed(t, g.Addr(), FuncFanout, false)

	w2 := startWorker(t, []string{g.Addr()}, testConfig(path))
	if n := fanoutCount(t, c, "memos", "after restart"); n != 1 {
		t.Fatalf("fanout after restart = %d, want 1", n)
	}
	if got := sub.got(); len(got) != 1 || got[0] != "after restart" {
		t.Fatalf("bob got %q", got)
	}
	// The first worker left the matchmaking topic when it shut down.
	if got := storeSubscribers(t, w2.store, MatchmakingTopic); !sameStrings(got, []string{w2.ID()}) {
		t.Fatalf("matchmaking subscribers %q, want only %s", got, w2.ID())
	}
}

// Two fanout workers on one PostgreSQL store: a subscription made through
// one is used by the other's fanouts, because the first tells the second
// to reload on the matchmaking topic. Each worker serves only some of the
// protocol's functions, so the test knows which one handled each job.
func TestPostgresMatchmaking(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	dsn := testenv.Postgres(t)
	servers := []string{g.Addr()}
	a := startWorker(t, servers, testConfig(dsn), WithID("a"), withFunctions(FuncSubscribe, FuncUnsubscribe))
	b := startWorker(t, servers, testConfig(dsn), WithID("b"), withFunctions(FuncFanout))
	c := newClient(t, g.Addr())
	waitServed(t, g.Addr(), FuncFanout, true)
	waitServed(t, g.Addr(), FuncSubscribe, true)

	// Both are on the matchmaking topic, and each knows of the other.
	if got := storeSubscribers(t, a.store, MatchmakingTopic); !sameStrings(got, []string{"a", "b"}) {
		t.Fatalf("matchmaking subscribers %q, want a and b", got)
	}
	eventually(t, "a to know b", func() bool { return sameStrings(a.cache.subscribers(MatchmakingTopic), []string{"a", "b"}) })

	serve(t, g.Addr(), "memos_bob", nil)
	subscribe(t, c, "memos", "bob") // handled by a
	eventually(t, "b to reload", func() bool { return len(b.cache.subscribers("memos")) == 1 })
	if n := fanoutCount(t, c, "memos", "hi"); n != 1 { // handled by b
		t.Fatalf("fanout through b = %d, want 1", n)
	}

	unsubscribe(t, c, "memos", "bob")
	eventually(t, "b to reload", func() bool { return len(b.cache.subscribers("memos")) == 0 })
	if n := fanoutCount(t, c, "memos", "hi"); n != 0 {
		t.Fatalf("fanout through b after unsubscribe = %d, want 0", n)
	}

	// A worker ignores its own reload message.
	res, err := call(t, c, "__matchmaking_a", reloadMessage{Op: "reload", From: "a"})
	if err != nil || string(res) != "ignored: own message" {
		t.Fatalf("own reload message: %q, %v", res, err)
	}
}

// A subscriber killed with SIGKILL leaves no worker on its queue: a
// foreground fanout reports it at once instead of waiting out the copy
// timeout, and after PruneAfter it is removed from the store.
func TestKilledSubscriberIsPruned(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	cfg := testConfig(sqlitePath(t))
	cfg.PruneAfter = time.Second
	w := startWorker(t, []string{g.Addr()}, cfg)
	c := newClient(t, g.Addr())
	serve(t, g.Addr(), "memos_alive", nil)
	victim := cWorker(t, g.Addr(), "memos_victim", "cat")
	subscribe(t, c, "memos", "alive")
	subscribe(t, c, "memos", "victim")
	if n := fanoutCount(t, c, "memos", "before"); n != 2 {
		t.Fatalf("fanout = %d, want 2", n)
	}

	victim.Process.Signal(syscall.SIGKILL)
	waitServed(t, g.Addr(), "memos_victim", false)
	start := time.Now()
	res, err := call(t, c, FuncFanout, Request{Topic: "memos", Payload: StringPayload("after")})
	errs, perr := ParseCopyErrors([]byte(exception(t, res, err)))
	if perr != nil || len(errs) != 1 || errs[0].ClientID != "victim" || !strings.Contains(errs[0].Err, "no worker registered") {
		t.Fatalf("copy errors %+v (%v), want victim with no worker", errs, perr)
	}
	if d := time.Since(start); d > cfg.CopyTimeout/2 {
		t.Fatalf("fanout took %v: it waited for a queue nobody serves", d)
	}

	eventually(t, "victim to be pruned", func() bool {
		return sameStrings(storeSubscribers(t, w.store, "memos"), []string{"alive"})
	})
	if n := fanoutCount(t, c, "memos", "pruned"); n != 1 {
		t.Fatalf("fanout after pruning = %d, want 1", n)
	}
	// The live subscriber, and the worker itself, were never pruned.
	if got := storeSubscribers(t, w.store, MatchmakingTopic); !sameStrings(got, []string{w.ID()}) {
		t.Fatalf("matchmaking subscribers %q", got)
	}
}

// Malformed requests get a WORK_EXCEPTION that names the problem, and the
// worker goes on serving.
func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	startWorker(t, []string{g.Addr()}, testConfig(sqlitePath(t)))
	c := newClient(t, g.Addr())
	cases := []struct {
		fn, data, want string
	}{
		{FuncFanout, `not json`, "fanout: payload is not JSON"},
		{FuncFanout, ``, "fanout: payload is not JSON"},
		{FuncFanout, `["topic"]`, "fanout: payload: want a JSON object, got array"},
		{FuncFanout, `"hello"`, "fanout: payload: want a JSON object, got string"},
		{FuncFanout, `{"payload":"x"}`, `fanout: payload: missing "topic"`},
		{FuncFanout, `{"topic":"memos"}`, `fanout: payload: missing "payload"`},
		{FuncFanout, `{"topic":"memos","payload":null}`, `fanout: payload: "payload" is null`},
		{FuncFanout, `{"topic":7,"payload":"x"}`, `fanout: payload: "topic" must be a string, got number`},
		{FuncFanout, `{"topic":"","payload":"x"}`, `fanout: payload: "topic": empty`},
		{FuncFanout, `{"topic":"a b","payload":"x"}`, `fanout: payload: "topic": "a b" contains white space`},
		{FuncFanout, `{"topic":"memos","payload":"x","unique":5}`, `fanout: payload: "unique" must be a string, got number`},
		{FuncFanout, `{"topic":"memos","payload":"x","unique":"` + strings.Repeat("u", 65) + `"}`, `"unique" is 65 bytes, over gearmand's 63`},
		{FuncFanout, `{"topic":"memos","payload":"x","background":"yes"}`, `fanout: payload: "background" must be true or false, got string`},
		{FuncFanout, `{"topic":"memos","payload":"x","background":true,"collect":true}`, `"collect" needs a foreground fanout`},
		{FuncFanout, `{"topic":"memos","payload":"x","timeout":-1}`, `"timeout" must be a positive number of seconds, got -1`},
		{FuncFanout, `{"topic":"memos","payload":"x","timeout":"5"}`, `"timeout" must be a positive number of seconds`},
		{FuncSubscribe, `{"topic":"memos"}`, `subscribe_fanout: payload: missing "client_id"`},
		{FuncSubscribe, `{"client_id":"bob"}`, `subscribe_fanout: payload: missing "topic"`},
		{FuncSubscribe, `{"topic":"memos","client_id":["bob"]}`, `subscribe_fanout: payload: "client_id" must be a string, got array`},
		{FuncSubscribe, `{"topic":"memos","client_id":"` + strings.Repeat("b", 600) + `"}`, `over gearmand's 512`},
		{FuncSubscribe, `{"topic":`, "subscribe_fanout: payload is not JSON"},
		{FuncUnsubscribe, `[]`, "unsubscribe_fanout: payload: want a JSON object, got array"},
		{FuncUnsubscribe, `{"topic":"memos","client_id":""}`, `unsubscribe_fanout: payload: "client_id": empty`},
	}
	for _, tc := range cases {
		res, err := call(t, c, tc.fn, []byte(tc.data))
		if got := exception(t, res, err); !strings.Contains(got, tc.want) {
			t.Errorf("%s %s: exception %q, want it to contain %q", tc.fn, tc.data, got, tc.want)
		}
	}
	// Still serving.
	serve(t, g.Addr(), "memos_bob", nil)
	subscribe(t, c, "memos", "bob")
	if n := fanoutCount(t, c, "memos", "still here"); n != 1 {
		t.Fatalf("fanout after the bad requests = %d, want 1", n)
	}
}

// The count is the number of copies that completed, reported only once all
// of them have: gearhorn could over-count (it added every completed copy
// again on each pass of its polling loop) and so report success before the
// slow copies had finished.
func TestForegroundCountsOnlyDeliveredCopies(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	startWorker(t, []string{g.Addr()}, testConfig(sqlitePath(t)))
	c := newClient(t, g.Addr())

	var slowDone atomic.Int64 // UnixNano when the slow copy finished
	serve(t, g.Addr(), "memos_fast", nil)
	serve(t, g.Addr(), "memos_slow", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		time.Sleep(700 * time.Millisecond) // several of gearhorn's 0.1s polls
		slowDone.Store(time.Now().UnixNano())
		return j.Data, nil
	})
	subscribe(t, c, "memos", "fast")
	subscribe(t, c, "memos", "slow")
	n := fanoutCount(t, c, "memos", "x")
	returned := time.Now().UnixNano()
	if n != 2 {
		t.Fatalf("fanout = %d, want exactly 2", n)
	}
	if d := slowDone.Load(); d == 0 || d > returned {
		t.Fatal("fanout reported success before the slow copy finished")
	}

	// A failing copy is not counted: the fanout is an exception naming it.
	serve(t, g.Addr(), "memos_broken", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		return nil, errors.New("disk full")
	})
	subscribe(t, c, "memos", "broken")
	n, err := Send(context.Background(), c, Request{Topic: "memos", Payload: StringPayload("y")})
	var ce *CopiesError
	if !errors.As(err, &ce) || len(ce.Errs) != 1 || ce.Errs[0] != (CopyError{"broken", "disk full"}) {
		t.Fatalf("fanout with a failing copy = %d, %v; want a CopiesError for broken only", n, err)
	}
	// On the wire: gearhorn's list of [client_id, error] pairs.
	res, err := call(t, c, FuncFanout, Request{Topic: "memos", Payload: StringPayload("y")})
	if got := exception(t, res, err); got != `[["broken","disk full"]]` {
		t.Fatalf("exception %s", got)
	}
}

// A copy that times out is reported, and cancelled: it does not stay
// queued to run later for nobody.
func TestTimedOutCopyIsCancelled(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	cfg := testConfig(sqlitePath(t))
	cfg.CopyTimeout = time.Second
	startWorker(t, []string{g.Addr()}, cfg)
	c := newClient(t, g.Addr())

	// A subscriber with one slot, held by a blocker job: it is registered
	// (so not skipped) but takes nothing else until released.
	release := make(chan struct{})
	busy := serve(t, g.Addr(), "memos_busy", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		if string(j.Data) == "blocker" {
			<-release
		}
		return j.Data, nil
	}, gearman.WithConcurrency(1))
	serve(t, g.Addr(), "memos_ok", nil)
	if _, err := c.SubmitBackground(context.Background(), "memos_busy", []byte("blocker")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the blocker to run", func() bool { return len(busy.got()) == 1 })
	subscribe(t, c, "memos", "busy")
	subscribe(t, c, "memos", "ok")

	start := time.Now()
	res, err := call(t, c, FuncFanout, Request{Topic: "memos", Payload: StringPayload("late")})
	errs, perr := ParseCopyErrors([]byte(exception(t, res, err)))
	if perr != nil || len(errs) != 1 || errs[0].ClientID != "busy" || !strings.Contains(errs[0].Err, "timed out after 1s") {
		t.Fatalf("copy errors %+v (%v), want busy timed out", errs, perr)
	}
	if d := time.Since(start); d < cfg.CopyTimeout || d > 10*cfg.CopyTimeout {
		t.Fatalf("fanout took %v with a %v copy timeout", d, cfg.CopyTimeout)
	}

	// gearmand marks the copy dropped once it has seen its client's
	// connection close, which the fanout did just before answering, and
	// skips it when a worker asks; a subscriber asking in that instant could
	// still get it (a loaded run saw that once). Give gearmand that instant,
	// then release the subscriber: the cancelled copy must not reach it,
	// and its queue empties.
	time.Sleep(300 * time.Millisecond)
	close(release)
	eventually(t, "the queue to empty", func() bool { return functionStatus(t, g.Addr(), "memos_busy").Queued == 0 })
	time.Sleep(200 * time.Millisecond)
	if got := busy.got(); len(got) != 1 {
		t.Fatalf("busy subscriber got %q: the timed-out copy was left queued", got)
	}
}

// collect returns every subscriber's reply: JSON replies as they are,
// others as strings, failures under "errors".
func TestCollect(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	startWorker(t, []string{g.Addr()}, testConfig(sqlitePath(t)))
	c := newClient(t, g.Addr())
	serve(t, g.Addr(), "ping_w1", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		return []byte(`{"pid": 42, "nreqs": 7}`), nil
	})
	serve(t, g.Addr(), "ping_w2", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		return []byte("pong " + string(j.Data)), nil
	})
	serve(t, g.Addr(), "ping_w3", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		return []byte{0xff, 0x00}, nil
	})
	serve(t, g.Addr(), "ping_w4", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		return nil, errors.New("too busy")
	})
	for _, id := range []string{"w1", "w2", "w3", "w4", "gone"} {
		subscribe(t, c, "ping", id)
	}
	got, err := Collect(context.Background(), c, Request{Topic: "ping", Payload: StringPayload("?")})
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	var stats struct{ PID, NReqs int }
	if err := json.Unmarshal(got.Replies["w1"], &stats); err != nil || stats.PID != 42 {
		t.Errorf("w1 reply %s, want the stats object", got.Replies["w1"])
	}
	if string(got.Replies["w2"]) != `"pong ?"` {
		t.Errorf("w2 reply %s, want the string", got.Replies["w2"])
	}
	if got.Binary["w3"] != "/wA=" {
		t.Errorf("w3 binary reply %q, want base64 /wA=", got.Binary["w3"])
	}
	if got.Errors["w4"] != "too busy" || !strings.Contains(got.Errors["gone"], "no worker registered") {
		t.Errorf("errors %q", got.Errors)
	}
	if len(got.Replies) != 2 || len(got.Binary) != 1 || len(got.Errors) != 2 {
		t.Errorf("collect result %+v", got)
	}
}

// A background fanout returns as soon as the copies are queued, with
// their count.
func TestBackgroundReturnsAtOnce(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	startWorker(t, []string{g.Addr()}, testConfig(sqlitePath(t)))
	c := newClient(t, g.Addr())
	release := make(chan struct{})
	sub := serve(t, g.Addr(), "jobs_slow", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		<-release
		return nil, nil
	})
	subscribe(t, c, "jobs", "slow")
	subscribe(t, c, "jobs", "nobody") // queued for later, like gearhorn
	res, err := call(t, c, FuncFanout, Request{Topic: "jobs", Payload: StringPayload("bg"), Background: true, Unique: "u1"})
	if err != nil || string(res) != "2" {
		t.Fatalf("background fanout = %q, %v; want 2", res, err)
	}
	eventually(t, "the copy to arrive", func() bool { return len(sub.got()) == 1 })
	sub.mu.Lock()
	j := sub.jobs[0]
	sub.mu.Unlock()
	if string(j.Data) != "bg" || j.Unique != "u1" {
		t.Fatalf("copy %q unique %q, want bg with unique u1", j.Data, j.Unique)
	}
	close(release)
	if st := functionStatus(t, g.Addr(), "jobs_nobody"); st.Queued != 1 {
		t.Fatalf("jobs_nobody has %d queued, want the background copy", st.Queued)
	}
}

// Many fanouts are served at once.
func TestConcurrentFanouts(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	startWorker(t, []string{g.Addr()}, testConfig(sqlitePath(t)))
	c := newClient(t, g.Addr())
	const n, delay = 16, 500 * time.Millisecond
	serve(t, g.Addr(), "load_a", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		time.Sleep(delay)
		return nil, nil
	}, gearman.WithConcurrency(n))
	subscribe(t, c, "load", "a")
	start := time.Now()
	errs := make(chan error, n)
	for i := range n {
		go func() {
			res, err := c.Call(context.Background(), FuncFanout,
				mustJSON(Request{Topic: "load", Payload: StringPayload(strconv.Itoa(i))}))
			if err == nil && string(res) != "1" {
				err = errors.New("result " + string(res))
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > n*delay/3 {
		t.Fatalf("%d fanouts of a %v copy took %v: not served at once", n, delay, d)
	}
}

// Payloads: a JSON string is delivered as its text, any other JSON value
// as its JSON, and the unique id reaches every copy.
func TestPayloadAndUnique(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	startWorker(t, []string{g.Addr()}, testConfig(sqlitePath(t)))
	c := newClient(t, g.Addr())
	bob := serve(t, g.Addr(), "cmd_bob", nil)
	subscribe(t, c, "cmd", "bob")
	for i, tc := range []struct{ payload, want string }{
		{`"hello \u00e9"`, "hello é"},
		{`{"cmd": "ping"}`, `{"cmd": "ping"}`},
		{`[1,2]`, `[1,2]`},
	} {
		data := `{"topic":"cmd","payload":` + tc.payload + `,"unique":"same-` + strconv.Itoa(i) + `"}`
		if _, err := call(t, c, FuncFanout, []byte(data)); err != nil {
			t.Fatalf("fanout %s: %v", data, err)
		}
		bob.mu.Lock()
		j := bob.jobs[len(bob.jobs)-1]
		bob.mu.Unlock()
		if string(j.Data) != tc.want || j.Unique != "same-"+strconv.Itoa(i) {
			t.Errorf("payload %s delivered as %q unique %q, want %q", tc.payload, j.Data, j.Unique, tc.want)
		}
	}
}

// Shutdown lets a fanout in progress finish before the worker stops.
func TestShutdownDrains(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	w, err := NewWorker(config.Client{JobServers: []string{g.Addr()}}, testConfig(sqlitePath(t)))
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- w.Run() }()
	c := newClient(t, g.Addr())
	started := make(chan struct{})
	serve(t, g.Addr(), "memos_slow", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		close(started)
		time.Sleep(500 * time.Millisecond)
		return nil, nil
	})
	subscribe(t, c, "memos", "slow")
	result := make(chan string, 1)
	go func() {
		res, err := c.Call(context.Background(), FuncFanout, mustJSON(Request{Topic: "memos", Payload: StringPayload("x")}))
		if err != nil {
			res = []byte(err.Error())
		}
		result <- string(res)
	}()
	<-started
	if err := w.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-ran; !errors.Is(err, ErrWorkerClosed) {
		t.Fatalf("Run() = %v", err)
	}
	if got := <-result; got != "1" {
		t.Fatalf("fanout during shutdown = %q, want 1", got)
	}
	w.Close() // after Shutdown: harmless
}

// "timeout" caps the per-copy wait below CopyTimeout.
func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	g := testenv.Gearmand(t)
	startWorker(t, []string{g.Addr()}, testConfig(sqlitePath(t))) // CopyTimeout 20s
	c := newClient(t, g.Addr())
	release := make(chan struct{})
	defer close(release)
	serve(t, g.Addr(), "ping_hung", func(ctx context.Context, j *gearman.Job) ([]byte, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	})
	serve(t, g.Addr(), "ping_ok", nil)
	subscribe(t, c, "ping", "hung")
	subscribe(t, c, "ping", "ok")
	start := time.Now()
	got, err := Collect(context.Background(), c, Request{Topic: "ping", Payload: StringPayload("?"), Timeout: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("collect with a 0.3s timeout took %v", d)
	}
	if len(got.Replies) != 1 || got.Errors["hung"] != "timed out after 300ms; the copy was cancelled" {
		t.Fatalf("collect = %+v", got)
	}
}
