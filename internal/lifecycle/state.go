package lifecycle

// State is where a service is in its life. It only moves forward:
// Idle -> Running -> Stopping -> Stopped, or Idle -> Stopped when the
// service is stopped before it ever ran.
type State int

const (
	Idle     State = iota // created, Run not called
	Running               // Run began and Stop was not called
	Stopping              // Stop was called while Run had not returned
	Stopped               // Run returned, or Stop came before any Run
)

func (s State) String() string {
	switch s {
	case Idle:
		return "idle"
	case Running:
		return "running"
	case Stopping:
		return "stopping"
	case Stopped:
		return "stopped"
	}
	return "invalid"
}
