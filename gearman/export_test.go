package gearman

import "net"

// WithConnWrapper has every connection dialled go through wrap first: a
// test's window on what a Client or Worker writes.
func WithConnWrapper(wrap func(net.Conn) net.Conn) ConnOption {
	return ConnOption{func(o *connOptions) { o.wrapConn = wrap }}
}
