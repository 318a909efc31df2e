package direct

// Reason is why a worker could not fetch a payload.
type Reason byte

const (
	ReasonUnreachable Reason = 'u' // the address did not answer, or the connection broke
	ReasonGone        Reason = 'g' // the server knows no such token (dropped, or another server)
	ReasonBusy        Reason = 'b' // the server had too many connections
	ReasonRefused     Reason = 'r' // a bad reference or frame, or a length over the worker's limit
)

func (r Reason) String() string {
	switch r {
	case ReasonUnreachable:
		return "unreachable"
	case ReasonGone:
		return "token unknown"
	case ReasonBusy:
		return "server busy"
	case ReasonRefused:
		return "refused"
	}
	return "unknown reason"
}
