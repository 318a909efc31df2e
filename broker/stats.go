package broker

// Traffic counts whole messages (a multi-part message is one) and their
// bytes, all parts included.
type Traffic struct {
	Messages, Bytes uint64
}

// ChannelStats is the traffic of one channel.
type ChannelStats struct {
	Down Traffic // publishers to subscribers: the channel's commands or log records
	Up   Traffic // subscribers to publishers: subscribe and unsubscribe messages
}

// Stats is the traffic forwarded since New.
type Stats struct {
	Command ChannelStats // clients to workers
	Log     ChannelStats // workers to clients

	// RefusedHandshakes counts the peers a broker with a key (WithKey)
	// refused because they are not CURVE clients of the cluster key.
	// Plain ZeroMQ peers fail earlier, in libzmq, on the mechanism
	// mismatch, and are not counted.
	RefusedHandshakes uint64
}

// Stats returns the traffic forwarded so far. While the broker serves it
// asks the proxies for their counts, so they are current; after Close they
// are the final ones.
func (b *Broker) Stats() Stats {
	for _, c := range b.chans {
		if err := c.refresh(); err != nil {
			b.log.Warn("broker: cannot read the proxy's statistics", "channel", c.name, "err", err)
		}
	}
	return Stats{Command: b.chans[0].stats(), Log: b.chans[1].stats(), RefusedHandshakes: b.zap.Refused()}
}

// stats returns the counters as last read from the proxy.
func (c *channel) stats() ChannelStats {
	return ChannelStats{
		Down: Traffic{Messages: c.downMsgs.Load(), Bytes: c.downBytes.Load()},
		Up:   Traffic{Messages: c.upMsgs.Load(), Bytes: c.upBytes.Load()},
	}
}

// HighWaterMark is how many messages each of the broker's sockets queues
// per peer before it drops (WithHWM; 0: no limit). libzmq counts no drops:
// an XPUB drops silently, per subscriber, at this mark.
func (b *Broker) HighWaterMark() int { return b.hwm }
