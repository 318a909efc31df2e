package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/glimpse-go/glimpse/internal/tlsproxy"
)

var tlsProxyCommand = &command{
	name:  "tls-proxy",
	args:  "-listen ADDR -to ADDR -cert FILE -key FILE [-client-ca FILE]",
	short: "serve a job server over TLS (gearmand has no working TLS)",
	long: `
Accepts TLS connections on -listen and forwards each, decrypted, to the
plaintext gearmand at -to. gearmand 1.1.20 as Debian builds it accepts
--ssl but has no TLS compiled in and serves plaintext (see SECURITY.md),
so TLS is terminated here: run gearmand with --listen 127.0.0.1 on the
same host, this proxy on the host's network address, and give every
client and worker [client] tls = true with tls_ca_file naming the CA that
signed -cert.

With -client-ca, only clients holding a certificate signed by one of the
CAs in that PEM file get through ([client] tls_cert_file and
tls_key_file); without it, TLS hides the traffic but anyone who can reach
-listen can use the job server.

A client that speaks plaintext is answered with a TLS alert, which
glimpse-go's clients report as "expects a TLS connection". SIGTERM or
SIGINT closes every connection and stops at once.`,
	run: runTLSProxy,
}

type tlsProxyFlags struct {
	listen, to, cert, key, clientCA string
}

func runTLSProxy(ctx context.Context, e *env, c *command, args []string) int {
	f, code, ok := parseTLSProxyFlags(e, c, args)
	if !ok {
		return code
	}
	tlsConf, err := tlsproxy.ServerTLS(f.cert, f.key, f.clientCA)
	if err != nil {
		return e.usageError(c, "%v", err)
	}
	log := newLogger(e.stderr, slog.LevelInfo)
	p, err := tlsproxy.Listen(f.listen, tlsproxy.Config{TLS: tlsConf, Backend: f.to, Logger: log})
	if err != nil {
		return e.failure(c, err)
	}
	log.Info("serving gearmand over TLS", "listen", p.Addr(), "to", f.to, "client_certificates", f.clientCA != "")
	warnTLSProxyExposure(log, f)
	var why string
	select {
	case s := <-e.signals:
		why = s.String()
	case <-ctx.Done():
		why = context.Cause(ctx).Error()
	}
	log.Info("shutting down", "cause", why)
	if err := p.Close(); err != nil {
		return e.failure(c, err)
	}
	return exitOK
}

func parseTLSProxyFlags(e *env, c *command, args []string) (f tlsProxyFlags, code int, ok bool) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.StringVar(&f.listen, "listen", "", "accept TLS connections on `ADDR` (host:port), e.g. 10.0.0.5:4731")
	fs.StringVar(&f.to, "to", "", "gearmand's plaintext `ADDR` (host:port), e.g. 127.0.0.1:4730")
	fs.StringVar(&f.cert, "cert", "", "the proxy's certificate `FILE` (PEM, leaf first, then any intermediates)")
	fs.StringVar(&f.key, "key", "", "the certificate's private key `FILE` (PEM)")
	fs.StringVar(&f.clientCA, "client-ca", "", "admit only clients whose certificate a CA in `FILE` (PEM) signed")
	if code, ok := e.parseFlags(c, fs, args); !ok {
		return f, code, false
	}
	var missing []string
	for _, m := range []struct{ name, value string }{{"-listen", f.listen}, {"-to", f.to}, {"-cert", f.cert}, {"-key", f.key}} {
		if m.value == "" {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 {
		return f, e.usageError(c, "missing %s", strings.Join(missing, ", ")), false
	}
	for _, a := range []struct{ name, value string }{{"-listen", f.listen}, {"-to", f.to}} {
		if _, _, err := net.SplitHostPort(a.value); err != nil {
			return f, e.usageError(c, "%s %q: want host:port", a.name, a.value), false
		}
	}
	return f, exitOK, true
}

// warnTLSProxyExposure says what the proxy does not protect: a gearmand
// reachable in plaintext beside it, and clients without certificates.
func warnTLSProxyExposure(log *slog.Logger, f tlsProxyFlags) {
	host, _, _ := net.SplitHostPort(f.to)
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Warn(fmt.Sprintf("gearmand at %s is not on loopback: whoever reaches it there bypasses TLS; run it with --listen 127.0.0.1", f.to))
	}
	if f.clientCA == "" {
		log.Warn("no -client-ca: anyone who can reach " + f.listen + " can use the job server; TLS only hides the traffic")
	}
}
