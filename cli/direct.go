package cli

import (
	"time"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/config"
)

// With no broker (config.Client.Direct: each frontend URL equals its
// backend, as in glimpse's "the client communicates directly with worker
// nodes"), the client binds both channels and the workers connect to it,
// exactly as they would connect to a broker. Workers retry a refused
// connection every 100-200ms (ZeroMQ's reconnect interval plus jitter), so
// they find each new client soon after it binds, and one that goes away
// costs them nothing.

// directSettle is how long after binding a client with no broker keeps
// collecting replies at least: by then every live worker has connected
// (within one reconnect interval) and answered.
const directSettle = 500 * time.Millisecond

// clientPeers are a client's ends of the two channels.
type clientPeers struct {
	url    string             // the command channel's, as configured
	pub    *broker.Publisher  // commands
	sub    *broker.Subscriber // replies (or logs)
	settle time.Time          // with no broker: workers may still be joining until then
}

// openClientPeers subscribes to topics on the log channel, then opens the
// command channel: connected to the broker, or bound with no broker. The
// log channel comes first, so that with no broker the workers' log
// connections have a head start on the commands they will answer.
func openClientPeers(cfg config.Client, topics ...string) (*clientPeers, error) {
	peers, err := channelPeers(cfg)
	if err != nil {
		return nil, err
	}
	sub, err := peerLogSubscriber(cfg, peers, topics...)
	if err != nil {
		return nil, err
	}
	cp := &clientPeers{url: cfg.CommandFrontendURL, sub: sub}
	if cfg.Direct() {
		cp.pub, err = peers.BindPublisher(bindURL(cfg.CommandFrontendURL))
		cp.settle = time.Now().Add(directSettle)
		err = bindError("command", cfg.CommandFrontendURL, err)
	} else {
		cp.pub, err = peers.NewPublisher(cfg.CommandFrontendURL)
	}
	if err != nil {
		sub.Close()
		return nil, err
	}
	return cp, nil
}

// hint says where to look when no worker listens.
func (cp *clientPeers) hint() string {
	if cp.settle.IsZero() {
		return ""
	}
	return " (no broker: this client bound it; the workers' config must name the same URLs)"
}

func (cp *clientPeers) Close() {
	cp.pub.Close()
	cp.sub.Close()
}

// logSubscriber subscribes to topics on the log channel: at the broker's
// log_backend_url, or with no broker at the URL the workers publish to,
// bound here.
func logSubscriber(cfg config.Client, topics ...string) (*broker.Subscriber, error) {
	peers, err := channelPeers(cfg)
	if err != nil {
		return nil, err
	}
	return peerLogSubscriber(cfg, peers, topics...)
}

func peerLogSubscriber(cfg config.Client, peers broker.Peers, topics ...string) (*broker.Subscriber, error) {
	return peers.LogSubscriber(cfg, topics...)
}

// channelPeers, bindURL and bindError are broker's ClientPeers,
// ClientBindURL and ClientBindError: pool.Logs subscribes the same way.
func channelPeers(cfg config.Client) (broker.Peers, error) { return broker.ClientPeers(cfg) }

func bindURL(url string) string { return broker.ClientBindURL(url) }

func bindError(channel, url string, err error) error {
	return broker.ClientBindError(channel, url, err)
}
