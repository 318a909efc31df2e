package broker

import (
	"fmt"

	zmq "github.com/pebbe/zmq4"

	"github.com/glimpse-go/glimpse/internal/auth"
)

// zapDomain is the ZAP domain of every CURVE server socket, so that its
// handshakes go to the ZAP handler of its context.
const zapDomain = "glimpse"

// The labels of the CURVE secret keys derived from the cluster key.
const (
	curveServerLabel = "zmq curve server"
	curveClientLabel = "zmq curve client"
)

// curveKeys are the channels' two CURVE key pairs, in Z85: every socket
// that binds (the broker's, or a client's with no broker) is a CURVE
// server with the server pair, every socket that connects a CURVE client
// with the client pair. Both derive from the cluster key, so a key holder
// has them and nobody else can compute them: without the server's public
// key a peer cannot even start the handshake, and the ZAP handler admits
// only the client public key.
type curveKeys struct {
	serverPublic, serverSecret string
	clientPublic, clientSecret string
}

// deriveCurveKeys derives the CURVE key pairs from k; nil for no key.
func deriveCurveKeys(k *auth.Key) (*curveKeys, error) {
	if k == nil {
		return nil, nil
	}
	server, client := k.Derive(curveServerLabel), k.Derive(curveClientLabel)
	c := &curveKeys{serverSecret: zmq.Z85encode(string(server[:])), clientSecret: zmq.Z85encode(string(client[:]))}
	var err error
	if c.serverPublic, err = zmq.AuthCurvePublic(c.serverSecret); err != nil {
		return nil, fmt.Errorf("derive the CURVE server key: %w", err)
	}
	if c.clientPublic, err = zmq.AuthCurvePublic(c.clientSecret); err != nil {
		return nil, fmt.Errorf("derive the CURVE client key: %w", err)
	}
	return c, nil
}

// serve makes s a CURVE server whose handshakes go to the ZAP handler.
// Set before bind, which copies the options.
func (c *curveKeys) serve(s *zmq.Socket) error {
	if err := s.ServerAuthCurve(zapDomain, c.serverSecret); err != nil {
		return fmt.Errorf("make a CURVE server: %w", err)
	}
	return nil
}

// connect makes s a CURVE client of the cluster's servers. Set before
// connect.
func (c *curveKeys) connect(s *zmq.Socket) error {
	err := s.SetCurveServerkey(c.serverPublic)
	if err == nil {
		err = s.SetCurvePublickey(c.clientPublic)
	}
	if err == nil {
		err = s.SetCurveSecretkey(c.clientSecret)
	}
	if err != nil {
		return fmt.Errorf("make a CURVE client: %w", err)
	}
	return nil
}
