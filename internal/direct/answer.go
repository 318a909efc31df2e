package direct

// An Answer is what a worker answers a Ref's job with through the job
// server: the result went directly (ResultSent), or the payload could not
// be fetched (Failed, with why), so the job must be sent again the old way.
type Answer struct {
	Sent   bool   // the result went directly: the Offer holds it
	Reason Reason // why the fetch failed, if !Sent
}

// ResultSent is the job answer of a worker whose result the server stored.
var ResultSent = []byte(magic + string(kindResultSent))

// Failed is the job answer of a worker that could not fetch the payload.
func Failed(why Reason) []byte { return []byte(magic + string(kindFailed) + string(why)) }

// ParseAnswer reads a job's answer: ok is false if it is none of this
// package's (an ordinary result).
func ParseAnswer(data []byte) (a Answer, ok bool) {
	if len(data) <= len(magic) || string(data[:len(magic)]) != magic {
		return a, false
	}
	rest := data[len(magic):]
	switch {
	case len(rest) == 1 && rest[0] == kindResultSent:
		return Answer{Sent: true}, true
	case len(rest) == 2 && rest[0] == kindFailed:
		return Answer{Reason: Reason(rest[1])}, true
	}
	return a, false
}
