package broker

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/auth"
)

// A client's ends of the channels, as its config says: connected to the
// broker, or with no broker (config.Client.Direct) bound by the client,
// which the workers then connect to. glimpse-cluster's commands and
// pool.Pool.Logs subscribe this way.

// ClientPeers makes a client's ends of the channels as cfg says: CURVE
// with the cluster key of key_file, frames up to zmq_max_message_size.
func ClientPeers(cfg config.Client) (Peers, error) {
	key, err := auth.LoadKeyFile(cfg.KeyFile)
	if err != nil {
		return Peers{}, err
	}
	return Peers{Key: key, MaxMessageSize: cfg.ZMQMaxMessageSize}, nil
}

// LogSubscriber subscribes to topics on cfg's log channel: at the
// broker's log_backend_url, or with no broker at the URL the workers
// publish to, bound here.
func (c Peers) LogSubscriber(cfg config.Client, topics ...string) (*Subscriber, error) {
	if !cfg.Direct() {
		return c.NewSubscriber(cfg.LogBackendURL, topics...)
	}
	sub, err := c.BindSubscriber(ClientBindURL(cfg.LogBackendURL), topics...)
	return sub, ClientBindError("log", cfg.LogBackendURL, err)
}

// ClientBindURL is what a client with no broker binds for url. ZeroMQ binds IP
// addresses and interface names, not host names; a host name in the
// config is this machine's as the workers know it, which may resolve to
// another address here (Debian maps its own name to 127.0.1.1), so the
// client binds that port on every interface; "localhost" stays on
// loopback, where every worker that can reach it is.
func ClientBindURL(url string) string {
	rest, ok := strings.CutPrefix(url, "tcp://")
	if !ok {
		return url // ipc://path binds as it connects
	}
	host, port, err := net.SplitHostPort(rest)
	switch {
	case err != nil || net.ParseIP(host) != nil:
		return url
	case strings.EqualFold(host, "localhost"):
		return "tcp://127.0.0.1:" + port
	}
	return "tcp://*:" + port
}

// ClientBindError explains a failed bind of a client with no broker; nil stays
// nil.
func ClientBindError(channel, url string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrAddrInUse):
		return fmt.Errorf("%w: another client holds the %s channel at %s: with no broker one client at a time "+
			"(logs, ping/quit/restart/stats -via zmq) binds the channels", ErrAddrInUse, channel, url)
	default:
		return fmt.Errorf("%s channel: with no broker this client binds %s itself, so it must name this machine: %w", channel, url, err)
	}
}
