package pool

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/direct"
)

// DirectMinBytes: a Map chunk whose large byte strings (wire.PartMin and
// over, sent from where they are) total this much or more goes by the
// direct path (WithDirectData): its job carries a reference, and the
// worker fetches the bytes from the pool and sends its result back to it
// without the job server relaying either.
const DirectMinBytes = 1 << 20

// directPath is the pool's data server for the direct path (package
// internal/direct), started with the first chunk that takes it.
type directPath struct {
	off    bool   // WithDirectData(false), or direct_data = false
	listen string // WithDirectDataAddress or direct_data_address; "": the route to the job server
	// For tests: the address advertised instead of the bound one, a pause
	// in each transfer, and a look at each reference made.
	advertise string
	pause     func(direct.Stage)
	onRef     func(direct.Ref)

	disabled atomic.Bool // a worker could not fetch: inline from then on
	warned   sync.Once

	mu      sync.Mutex
	srv     *direct.Server
	started bool // a server was started, or failed to start
	closed  bool
}

// configure takes the settings of the config and the options, which
// override it.
func (d *directPath) configure(cfg config.Client, o poolOptions) {
	d.off, d.listen = cfg.NoDirectData, cfg.DirectDataAddress
	d.advertise, d.pause, d.onRef = o.directAdvertise, o.directPause, o.directRefs
	if o.directData != nil {
		d.off = !*o.directData
	}
	if o.directAddr != "" {
		d.listen = o.directAddr
	}
}

// checkDirectAddr checks WithDirectDataAddress's address by the rules of
// direct_data_address.
func checkDirectAddr(cfg config.Client, addr string) error {
	if addr == "" {
		return nil
	}
	cfg.DirectDataAddress = addr
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("pool: WithDirectDataAddress(%q): %w", addr, err)
	}
	return nil
}

// directServer returns the pool's data server, starting it if need be;
// nil if the direct path is off for the pool.
func (p *Pool) directServer() *direct.Server {
	d := &p.direct
	if d.off || d.disabled.Load() || p.tls != nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started || d.closed {
		return d.srv
	}
	d.started = true
	listen, advertise, err := p.directAddrs()
	if err == nil {
		d.srv, err = direct.Listen(direct.ServerConfig{Listen: listen, Advertise: advertise,
			MaxResult: int64(p.maxPacket()), Pause: d.pause})
	}
	if err != nil {
		d.disable(p.opts.logger, "", fmt.Sprintf("cannot listen for workers: %v", err))
	}
	return d.srv
}

// directAddrs are the addresses the data server binds and advertises:
// the one configured (port 0 if it names none; a host that is
// unspecified, 0.0.0.0 or ::, advertises the route's), else the local IP
// address of the route to the first job server (what that server's host
// can reach), port 0.
func (p *Pool) directAddrs() (listen, advertise string, err error) {
	listen, advertise = p.direct.listen, p.direct.advertise
	if listen == "" {
		host, err := routeIP(p.cfg.JobServers[0])
		return net.JoinHostPort(host, "0"), advertise, err
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		host, listen = strings.Trim(listen, "[]"), net.JoinHostPort(strings.Trim(listen, "[]"), "0")
	}
	if ip := net.ParseIP(host); advertise == "" && ip != nil && ip.IsUnspecified() {
		advertise, err = routeIP(p.cfg.JobServers[0])
		return listen, advertise, err
	}
	return listen, advertise, nil
}

// routeIP is this host's IP address on the route to addr. (A UDP
// "connection" sends nothing: it only picks the route.)
func routeIP(addr string) (string, error) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	host, _, err := net.SplitHostPort(c.LocalAddr().String())
	return host, err
}

func (p *Pool) maxPacket() int {
	if p.opts.maxPacket > 0 {
		return p.opts.maxPacket
	}
	return gearman.DefaultMaxPacketSize
}

// failed notes a worker that could not fetch a chunk's payload: the chunk
// goes inline, and so do the pool's later ones (a busy server excepted).
func (d *directPath) failed(log *slog.Logger, fn string, why direct.Reason) {
	if why == direct.ReasonBusy {
		log.Debug("pool: direct path busy; a chunk goes through the job server", "func", fn)
		return
	}
	d.disable(log, fn, "a worker could not fetch a chunk from the pool: "+why.String())
}

// disable turns the direct path off for the pool, with one warning.
func (d *directPath) disable(log *slog.Logger, fn, why string) {
	d.disabled.Store(true)
	d.warned.Do(func() {
		log.Warn("pool: direct path off; large items go through the job server from now on", "func", fn, "why", why)
	})
}

// close stops the data server: Close runs it once the maps have ended.
func (d *directPath) close() {
	d.mu.Lock()
	srv := d.srv
	d.srv, d.closed = nil, true
	d.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// offerDirect serves the chunk's payload (its head and its items' own
// bytes, as encode left them) from the pool's data server, and makes the
// job's data a reference to it. Only chunks sent in place (sendsInPlace:
// no key, no shared value, items held by Map) with enough large bytes,
// and no TLS to the job servers (the direct path is plaintext), take it.
func (c *chunkCall[In, Out]) offerDirect() {
	if direct.Size(c.more) < DirectMinBytes {
		return
	}
	srv := c.m.p.directServer()
	if srv == nil {
		return
	}
	parts := append([][]byte{c.payload}, c.more...)
	o, err := srv.Offer(parts)
	if err != nil {
		return // closed: the pool is closing
	}
	ref := o.Ref()
	if f := c.m.p.direct.onRef; f != nil {
		f(ref)
	}
	c.offer, c.inline = o, parts
	c.payload, c.more = ref.Encode(), nil
}

// directAnswer reads a worker's answer to a reference: the result its
// worker sent to the data server, or, if the worker could not fetch the
// payload, resend (the chunk goes again, inline). Any other answer is
// the chunk's own (a worker that could not deliver its result sent it
// through the job server).
func (c *chunkCall[In, Out]) directAnswer(data []byte, err error) (_ []byte, _ error, resend bool) {
	if c.offer == nil || err != nil {
		return data, err, false
	}
	a, ok := direct.ParseAnswer(data)
	switch {
	case !ok:
		return data, nil, false
	case a.Sent:
		if res, ok := c.offer.Result(); ok {
			c.m.p.counters.directChunks.Add(1)
			return res, nil, false
		}
		return nil, fmt.Errorf("%w: its worker said it sent the result to the pool, which has none", gearman.ErrJobFailed), false
	}
	c.m.p.counters.directFallbacks.Add(1)
	c.m.p.direct.failed(c.m.p.opts.logger, c.m.f.name, a.Reason)
	c.dropOffer()
	c.payload, c.more = c.inline[0], c.inline[1:]
	return nil, nil, true
}

// dropOffer forgets the chunk's payload at the data server: a late fetch
// gets "gone".
func (c *chunkCall[In, Out]) dropOffer() {
	if c.offer != nil {
		c.offer.Drop()
		c.offer = nil
	}
}
