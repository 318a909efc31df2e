package pool

import (
	"encoding/json"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// Maps announce themselves on the log channel (topic wire.TopicMap + map
// id), so that a dashboard or `glimpse-cluster top` can show the maps
// running now and their progress. It is cheap and off the map's path: a
// map only stores its counts in atomics; one goroutine per pool looks at
// them a few times a second and publishes. A map that ends within
// announceAfter is never announced, and nothing is sent at all when the
// pool's config has no broker URLs. Pub-sub drops what nobody subscribed
// to, so with no dashboard watching the messages do not leave the pool.

// Map announcement states.
const (
	MapStarted  = "start"
	MapProgress = "progress"
	MapEnded    = "end"
)

// MapAnnouncement is what a pool publishes about one of its maps.
type MapAnnouncement struct {
	ID       string    `json:"id"`       // the map id
	Function string    `json:"function"` // registered name
	State    string    `json:"state"`    // MapStarted, MapProgress or MapEnded
	Done     int       `json:"done"`     // items done
	Total    int       `json:"total"`    // items in all; -1 while unknown (Imap)
	Start    time.Time `json:"start"`    // when the map started
	Time     time.Time `json:"time"`     // when this was sent
	Client   string    `json:"client"`   // host-pid of the program running it
	Error    string    `json:"error,omitempty"`
}

// Announcement pacing: a map is first announced once it has run for
// announceAfter, then at most every announceEvery while its count moves,
// and every announceIdle while it does not (so a watcher can tell a map
// whose client died from a slow one).
const (
	announceAfter = 200 * time.Millisecond
	announceTick  = 250 * time.Millisecond
	announceEvery = 500 * time.Millisecond
	announceIdle  = 2 * time.Second
	// announceLinger keeps the publisher connected this long after the
	// last map ended: a new connection drops what it sends until the
	// subscriptions arrive, which would lose the next map's start.
	announceLinger = 30 * time.Second
)

// announcer publishes a pool's maps; its goroutine runs while maps do.
type announcer struct {
	url    string // log_frontend_url; "" announces nothing
	peers  broker.Peers
	key    *auth.Key
	client string

	mu        sync.Mutex
	maps      map[string]*announced
	running   bool          // the goroutine is running
	closed    bool          // Pool.Close: no new maps
	idleSince time.Time     // when the last map was dropped
	stop      chan struct{} // closed by close
	wg        sync.WaitGroup
}

// announced is one map as the announcer sees it.
type announced struct {
	id, fn      string
	start       time.Time
	done, total atomic.Int64
	ended       atomic.Bool
	err         atomic.Pointer[string]

	// The announcer goroutine's own.
	sent     bool
	lastSent time.Time
	lastDone int64
}

func newAnnouncer(p *Pool) *announcer {
	host, _ := os.Hostname()
	a := &announcer{maps: map[string]*announced{}, key: p.key, client: host + "-" + strconv.Itoa(os.Getpid()), stop: make(chan struct{})}
	if p.cfg.HasBroker() {
		a.url = p.cfg.LogFrontendURL
		a.peers = broker.Peers{Key: p.key, MaxMessageSize: p.cfg.ZMQMaxMessageSize}
	}
	return a
}

// begin registers a map; nil (which every method accepts) when nothing
// is announced.
func (a *announcer) begin(id, fn string, total int) *announced {
	if a == nil || a.url == "" {
		return nil
	}
	m := &announced{id: id, fn: fn, start: time.Now()}
	m.total.Store(int64(total))
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.maps[id] = m
	if !a.running {
		a.running = true
		a.wg.Go(a.run)
	}
	return m
}

// progress records the items done and the total (known late for Imap).
func (m *announced) progress(done, total int) {
	if m != nil {
		m.done.Store(int64(done))
		m.total.Store(int64(total))
	}
}

// end records the map's end and its error.
func (m *announced) end(err error) {
	if m == nil {
		return
	}
	if err != nil {
		msg := err.Error()
		m.err.Store(&msg)
	}
	m.ended.Store(true)
}

// run publishes until no map is left for announceLinger, or the pool
// closes.
func (a *announcer) run() {
	// Connected now, so that the subscriptions have arrived by the first
	// announcement (a new connection drops what it sends until then).
	pub, err := a.peers.NewPublisher(a.url, broker.WithLinger(100*time.Millisecond))
	if err != nil {
		pub = nil // announce nothing; the maps run on
	} else {
		defer pub.Close()
	}
	tick := time.NewTicker(announceTick)
	defer tick.Stop()
	for {
		stopping := false
		select {
		case <-tick.C:
		case <-a.stop:
			stopping = true
		}
		if !a.pass(pub, time.Now()) || stopping {
			return
		}
	}
}

// pass announces what changed; false once no map has been left for
// announceLinger (the goroutine then ends; the next map starts another).
func (a *announcer) pass(pub *broker.Publisher, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, m := range a.maps {
		if msg, ok := a.due(m, now); ok && pub != nil {
			a.send(pub, msg)
		}
		if m.ended.Load() {
			delete(a.maps, id)
		}
	}
	switch {
	case len(a.maps) > 0:
		a.idleSince = time.Time{}
	case a.idleSince.IsZero():
		a.idleSince = now
	case now.Sub(a.idleSince) >= announceLinger:
		a.running = false
		return false
	}
	return true
}

// due returns the announcement m needs now, if any.
func (a *announcer) due(m *announced, now time.Time) (MapAnnouncement, bool) {
	ended, done := m.ended.Load(), m.done.Load()
	state := MapProgress
	switch {
	case !m.sent && (ended || now.Sub(m.start) < announceAfter):
		return MapAnnouncement{}, false // a small map: never shown
	case !m.sent:
		state = MapStarted
	case ended:
		state = MapEnded
	case done == m.lastDone && now.Sub(m.lastSent) < announceIdle,
		now.Sub(m.lastSent) < announceEvery-announceTick/2: // ticks jitter

		return MapAnnouncement{}, false
	}
	m.sent, m.lastSent, m.lastDone = true, now, done
	msg := MapAnnouncement{ID: m.id, Function: m.fn, State: state, Done: int(done), Total: int(m.total.Load()),
		Start: m.start, Time: now, Client: a.client}
	if e := m.err.Load(); e != nil {
		msg.Error = *e
	}
	return msg, true
}

func (a *announcer) send(pub *broker.Publisher, msg MapAnnouncement) {
	data, err := json.Marshal(msg)
	if err != nil {
		return
	}
	topic := wire.TopicMap + msg.ID
	pub.Send(topic, a.key.Seal(auth.PurposeLog, data, []byte(topic)))
}

// close announces the ends of the maps that ended and stops the goroutine.
func (a *announcer) close() {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.stop)
	}
	a.mu.Unlock()
	a.wg.Wait()
}
