package broker

import (
	"log/slog"
	"time"
)

// proxies are the zmq_proxy_steerable calls of one Serve, one per
// channel, each on a goroutine of its own.
type proxies struct {
	log     *slog.Logger
	chans   []*channel
	exited  chan proxyExit
	running int // proxies that have not returned
}

// proxyExit is a proxy that returned, and why.
type proxyExit struct {
	c   *channel
	err error
}

// startProxies starts forwarding every channel.
func startProxies(chans []*channel, log *slog.Logger) *proxies {
	p := &proxies{log: log, chans: chans, exited: make(chan proxyExit, len(chans)), running: len(chans)}
	for _, c := range chans {
		c.setAlive(true)
		go func() { p.exited <- proxyExit{c, c.proxy()} }()
	}
	return p
}

// wait returns nil once stop is closed, or the *ChannelError of the first
// proxy to return before: only TERMINATE, not sent yet, ends one cleanly.
func (p *proxies) wait(stop <-chan struct{}) error {
	select {
	case <-stop:
		return nil
	case e := <-p.exited:
		p.running--
		e.c.setAlive(false)
		if e.err == nil {
			e.err = errProxyStopped
		}
		p.log.Error("broker failed", "channel", e.c.name, "err", e.err)
		return &ChannelError{Channel: e.c.name, Err: e.err}
	}
}

// terminate reads the final counts of the running proxies, sends them
// TERMINATE, and waits terminateTimeout at most for them to return. It
// returns the first failure among them.
func (p *proxies) terminate() error {
	for _, c := range p.chans {
		if err := c.terminate(); err != nil {
			p.log.Warn("broker: cannot stop the proxy", "channel", c.name, "err", err)
		}
	}
	timeout := time.NewTimer(terminateTimeout)
	defer timeout.Stop()
	var failure error
	for p.running > 0 {
		select {
		case e := <-p.exited:
			p.running--
			if e.err != nil && failure == nil {
				failure = &ChannelError{Channel: e.c.name, Err: e.err}
			}
		case <-timeout.C:
			p.log.Warn("broker: proxies slow to stop; terminating the ZeroMQ context under them", "running", p.running)
			return failure
		}
	}
	return failure
}

// drain waits for the proxies that missed TERMINATE: once the context is
// terminated, they return ETERM.
func (p *proxies) drain() {
	for ; p.running > 0; p.running-- {
		<-p.exited
	}
}
