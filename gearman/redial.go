package gearman

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"
)

// redial dials addr and serves each connection it gets, again and again
// with backoff, until ctx ends: the reconnect loop of a Client's and a
// Worker's link to one job server. serve owns a connection from its
// handshake to its end and reports whether the server made sense (see
// redialAtOnce); failures is how many connections in a row went wrong
// before this one. dialFailed hears why an attempt failed.
func redial(ctx context.Context, addr string, o *connOptions, serve func(cn *conn, failures int) (sane bool), dialFailed func(error)) {
	for attempt := 0; ; attempt++ {
		cn, err := dialConn(ctx, addr, o.dialOptions, o.maxPacket)
		if err == nil {
			if sane := serve(cn, attempt); redialAtOnce(cn, sane) {
				attempt = -1
			}
		} else {
			dialFailed(err)
			logDialFailure(o.logger, attempt, "server", addr, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff(max(attempt, 0), o.backoffMin, o.backoffMax)):
		}
	}
}

// backoff returns the wait before reconnect attempt n (0-based): it doubles
// from min to max, with jitter so that many peers do not dial in step.
func backoff(n int, min, max time.Duration) time.Duration {
	d := min
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d - d/8 + rand.N(d/4+1)
}

// logDialFailure says at warning level that a server cannot be reached, and
// only at debug level while it stays so, to keep a long outage to one line.
func logDialFailure(l *slog.Logger, attempt int, args ...any) {
	level := slog.LevelDebug
	if attempt == 0 {
		level = slog.LevelWarn
	}
	l.Log(context.Background(), level, "gearman: cannot reach job server; retrying", args...)
}

// redialAtOnce says whether a connection that ended may be dialled again
// without waiting: only one to a server that made sense (sane: it sent a
// valid packet). One that broke the protocol, or hung up without a word,
// backs off like an unreachable server instead of making us spin.
func redialAtOnce(cn *conn, sane bool) bool {
	return sane && !errors.Is(cn.cause(), ErrProtocol)
}

// logDisconnect reports a connection to addr that ended for cause, unless
// we closed it ourselves. failures is how many connections in a row went
// wrong before this one: a server that keeps breaking the protocol is
// reported once at warning level, then at debug level.
func logDisconnect(l *slog.Logger, msg, addr string, cause error, ours bool, failures int) {
	switch {
	case ours:
	case errors.Is(cause, ErrProtocol) && failures == 0:
		l.Warn("gearman: job server broke the protocol; reconnecting", "server", addr, "err", cause)
	case errors.Is(cause, ErrProtocol):
		l.Debug("gearman: job server broke the protocol; reconnecting", "server", addr, "err", cause)
	default:
		l.Info(msg, "server", addr, "err", cause)
	}
}
