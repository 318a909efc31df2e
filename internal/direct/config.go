package direct

// ServerConfig is how a Server listens and what it accepts.
type ServerConfig struct {
	// Listen is the address to bind, host:port (port 0: any free one).
	Listen string
	// Advertise is what workers dial, host:port, or a host to which the
	// bound port is added; empty: Listen's host and the bound port. (A
	// Listen host that is unspecified, 0.0.0.0 or ::, needs one here.)
	Advertise string
	// MaxConns bounds the connections served at once; more get
	// StatusBusy. 0: DefaultMaxConns.
	MaxConns int
	// MaxResult bounds a result's length; a longer one gets
	// StatusTooLarge. 0: DefaultMaxResult.
	MaxResult int64
	// Pause, for tests, is called halfway through each payload sent and
	// each result read, on the connection's goroutine.
	Pause func(Stage)
}

const (
	DefaultMaxConns        = 1024
	DefaultMaxResult int64 = 1 << 30
)
