package cluster

import "github.com/glimpse-go/glimpse/pool"

// requestStop hands a quit or restart to whoever runs the worker (see
// Worker.StopRequested), once; it returns the reply's error: "" when the
// request was taken, else why not. A request is never acknowledged and
// then left unread.
func (c *control) requestStop(cmd pool.Command) string {
	if c.refuseStop != "" {
		c.w.log.Warn("command refused", "command", cmd.Name, "id", cmd.ID, "why", c.refuseStop)
		return cmd.Name + " refused: " + c.refuseStop
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping {
		return "already stopping"
	}
	select {
	case c.stop <- StopRequest{Command: cmd.ID, Restart: cmd.Name == pool.CommandRestart}:
		c.stopping = true
		c.w.log.Info("command: stopping", "command", cmd.Name, "id", cmd.ID)
		return ""
	default:
		return "already stopping"
	}
}

// refuseStops makes the worker refuse quit and restart with a reply that
// says why: for a worker whose process would not act on StopRequested,
// such as the one StartLocal runs inside a program. Call it before Run.
func (w *Worker) refuseStops(why string) { w.control.refuseStop = why }

// inProgramRefusal is why StartLocal's worker refuses quit and restart.
const inProgramRefusal = "this worker runs inside a program (cluster.StartLocal); stop or restart that program instead"
