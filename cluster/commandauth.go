package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/pool"
)

// A command reaches a worker by two paths, its fanout queue and the
// ZeroMQ command channel; both go through accept. With a cluster key a
// command must be sealed with it (auth.PurposeCommand), and its send time
// and expiry, inside the seal, must be plausible; the replay guard lets
// each id through once until it expires, so a captured command replayed
// later is refused, and one that came by both paths is obeyed once.

// refusalWindow and refusalBurst bound the WARN records about refused
// commands: at most refusalBurst per refusalWindow, then one that says
// how many were not logged, so that a flood of forgeries cannot fill the
// logs.
const (
	refusalWindow = 10 * time.Second
	refusalBurst  = 5
)

// commandGate checks the commands that arrive on either path.
type commandGate struct {
	key   *auth.Key
	guard auth.ReplayGuard
	log   *slog.Logger

	rejected auth.Refusals // for WorkerStats.RejectedCommands
}

func newCommandGate(key *auth.Key, log *slog.Logger) *commandGate {
	return &commandGate{key: key, guard: auth.ReplayGuard{MaxTTL: pool.MaxCommandTTL}, log: log,
		rejected: auth.Refusals{Every: refusalWindow, Burst: refusalBurst}}
}

// errDuplicate is accept's answer for a command it let through already:
// the same command by the other path (or a fanout worker's retry), not an
// attack, so it is neither counted nor logged.
var errDuplicate = errors.New("command already received")

// accept opens, decodes and admits a command that came by path (the fanout
// queue, the command channel) from source (a job handle, a URL). A refused
// command is counted and logged (rate-limited); a duplicate returns the
// command with errDuplicate.
func (g *commandGate) accept(data []byte, path, source string) (pool.Command, error) {
	cmd, err := g.admit(data)
	if errors.Is(err, auth.ErrReplayed) {
		return cmd, errDuplicate
	}
	if err != nil {
		g.refused(path, source, err)
		return pool.Command{}, err
	}
	return cmd, nil
}

func (g *commandGate) admit(data []byte) (pool.Command, error) {
	body, err := g.key.OpenJSON(auth.PurposeCommand, data)
	if err != nil {
		return pool.Command{}, err
	}
	cmd, err := parseCommand(body)
	if err != nil {
		return pool.Command{}, err
	}
	if err := g.guard.Admit(cmd.ID, cmd.Sent, cmd.Expires, time.Now()); err != nil {
		return cmd, fmt.Errorf("command %s (%s): %w", cmd.ID, cmd.Name, err)
	}
	return cmd, nil
}

// refused counts a refused command and logs it, unless the window's
// budget of WARN records is spent.
func (g *commandGate) refused(path, source string, err error) {
	if log, skipped, _ := g.rejected.Add(time.Now()); log {
		g.log.Warn("command refused", "path", path, "source", source, "err", err, "refused_unlogged", skipped)
	}
}

// rejectedCount is how many commands were refused so far.
func (g *commandGate) rejectedCount() int64 { return g.rejected.Total() }

// sealReply encodes a reply (a pool.Reply, or the "ignored" note) and
// seals it with the key (auth.PurposeReply), so that the client counts it
// as this worker's answer.
func (g *commandGate) sealReply(reply any) ([]byte, error) {
	data, err := json.Marshal(reply)
	if err != nil {
		return nil, err
	}
	return g.key.SealJSON(auth.PurposeReply, data)
}
