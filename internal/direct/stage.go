package direct

// Stage is where a transfer is when ServerConfig.Pause is called.
type Stage int

const (
	StagePayload Stage = iota // half the payload is sent
	StageResult               // half the result is read
)
