package broker

import (
	"fmt"
	"log/slog"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/glimpse-go/glimpse/internal/auth"
)

const (
	// zapEndpoint is where libzmq sends a CURVE server's handshakes for
	// approval (RFC 27), within the server's own context: each context
	// that binds a CURVE server gets a handler of its own, so it starts
	// and stops with that context and nothing is process-global.
	zapEndpoint = "inproc://zeromq.zap.01"
	// refusalWarnEvery bounds the WARNs about refused handshakes: an
	// outsider retrying every 100ms must not flood the log.
	refusalWarnEvery = 10 * time.Second
)

// zapHandler answers a context's ZAP requests: it admits the CURVE
// client key derived from the cluster key and refuses anything else,
// counting and logging the refusals.
type zapHandler struct {
	sock    *zmq.Socket // REP on zapEndpoint; the serve goroutine's
	allowed string      // the admitted client public key, 32 raw bytes
	log     *slog.Logger
	refused auth.Refusals
	done    chan struct{}
}

// startZAP binds a ZAP handler in zctx, before any CURVE server socket
// of zctx binds, and serves it until zctx is terminated.
func startZAP(zctx *zmq.Context, keys *curveKeys, log *slog.Logger) (*zapHandler, error) {
	sock, err := newSocket(zctx, zmq.REP, 0, -1, "")
	if err != nil {
		return nil, fmt.Errorf("ZAP handler: %w", err)
	}
	if err := sock.Bind(zapEndpoint); err != nil {
		sock.Close()
		return nil, fmt.Errorf("ZAP handler: bind %s: %w", zapEndpoint, err)
	}
	h := &zapHandler{sock: sock, allowed: zmq.Z85decode(keys.clientPublic), log: log, done: make(chan struct{}),
		refused: auth.Refusals{Every: refusalWarnEvery}}
	go h.serve()
	return h, nil
}

// serve answers requests until the context is terminated (ETERM), then
// closes the socket, which lets the termination finish.
func (h *zapHandler) serve() {
	defer close(h.done)
	defer h.sock.Close()
	for {
		req, err := h.sock.RecvMessageBytes(0)
		if err != nil {
			if zmq.AsErrno(err) != zmq.ETERM {
				h.log.Error("broker: ZAP handler stopped; CURVE handshakes will stall", "err", err)
			}
			return
		}
		if _, err := h.sock.SendMessage(h.answer(req)...); err != nil {
			if zmq.AsErrno(err) != zmq.ETERM {
				h.log.Error("broker: ZAP handler stopped; CURVE handshakes will stall", "err", err)
			}
			return
		}
	}
}

// answer is the ZAP reply to req: version, request id, status code and
// text, user id, metadata. req is version, request id, domain, address,
// identity, mechanism, then the mechanism's credentials (for CURVE the
// client's public key).
func (h *zapHandler) answer(req [][]byte) []any {
	version, id := []byte("1.0"), []byte{}
	if len(req) >= 2 {
		version, id = req[0], req[1]
	}
	if len(req) == 7 && string(req[5]) == "CURVE" && string(req[6]) == h.allowed {
		return []any{version, id, "200", "OK", "", ""}
	}
	address, mechanism := "", ""
	if len(req) >= 6 {
		address, mechanism = string(req[3]), string(req[5])
	}
	h.refuse(address, mechanism)
	return []any{version, id, "400", "not a key holder of this cluster", "", ""}
}

// refuse counts a refused handshake and WARNs about it, at most once per
// refusalWarnEvery.
func (h *zapHandler) refuse(address, mechanism string) {
	if log, skipped, total := h.refused.Add(time.Now()); log {
		h.log.Warn("broker: refused a ZeroMQ peer without the cluster key", "address", address,
			"mechanism", mechanism, "refused_unlogged", skipped, "refused_total", total)
	}
}

// Refused is how many handshakes the handler refused; 0 for nil.
func (h *zapHandler) Refused() uint64 {
	if h == nil {
		return 0
	}
	return uint64(h.refused.Total())
}

// wait waits for serve to return, after the context's termination; it
// does nothing for nil.
func (h *zapHandler) wait() {
	if h != nil {
		<-h.done
	}
}
