package gearmand

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// Stop sends SIGTERM, waits up to 5s for gearmand to exit, then sends
// SIGKILL. It is a no-op if the server is not running, and is safe to call
// more than once and concurrently.
func (p *Process) Stop() error {
	p.life.Lock()
	defer p.life.Unlock()
	return p.stopLocked()
}

// Kill sends SIGKILL at once and waits until the process is reaped. It is a
// no-op if the server is not running.
func (p *Process) Kill() error {
	// Signal before taking the lock so that Kill is not held up behind a
	// Stop that is waiting out its grace period.
	if c := p.cur.Load(); c != nil && !c.exited() {
		if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("gearmand: kill pid %d: %w", c.cmd.Process.Pid, err)
		}
	}
	p.life.Lock()
	defer p.life.Unlock()
	return p.killLocked()
}

// Restart stops the server if it is running and starts it again on the same
// port with the same arguments, waiting until it answers (at most 10s or
// until ctx is done). Jobs queued in memory are lost, as with a real restart.
func (p *Process) Restart(ctx context.Context) error {
	p.life.Lock()
	defer p.life.Unlock()
	if err := p.stopLocked(); err != nil {
		return err
	}
	return p.startLocked(ctx, false)
}

func (p *Process) stopLocked() error {
	c := p.cur.Load()
	if c == nil || c.exited() {
		return nil
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("gearmand: send SIGTERM to pid %d: %w", c.cmd.Process.Pid, err)
	}
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-c.done:
		return nil
	case <-t.C:
		// gearmand ignores SIGTERM while it is still retrying bind(), and
		// may hang on shutdown; it is stopped either way.
		return p.killLocked()
	}
}

func (p *Process) killLocked() error {
	c := p.cur.Load()
	if c == nil {
		return nil
	}
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("gearmand: kill pid %d: %w", c.cmd.Process.Pid, err)
	}
	<-c.done
	return nil
}
