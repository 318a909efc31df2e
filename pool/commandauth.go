package pool

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/glimpse-go/glimpse/internal/auth"
)

// With a cluster key, a command travels sealed (auth.PurposeCommand) on
// both paths, and a worker's reply too (auth.PurposeReply): a reply counts
// as a worker's answer only if it opens with the key and names the very
// command it answers (a fresh id each time), so neither a forged reply
// nor an old one replayed passes for an answer. Without a key both are
// plain JSON, as before.

// UnauthenticatedReply starts the Error of a Reply that did not pass the
// key check (unsigned, forged, another key's, or the answer to another
// command): it is not the worker's answer, and Broadcast reports it under
// the id the fanout worker gave it.
const UnauthenticatedReply = "unauthenticated reply (not counted as an answer)"

// errOtherCommand is the refusal of a sealed reply to another command.
var errOtherCommand = errors.New("answers another command (a replay?)")

// sealCommand returns cmd's JSON as it goes out, sealed with key (as it is
// without one).
func sealCommand(key *auth.Key, cmd Command) ([]byte, error) {
	data, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	return key.SealJSON(auth.PurposeCommand, data)
}

// openReply checks and decodes a worker's reply to cmd. ignored is true
// for a reply that only says the worker did not act (not a target, or it
// had the command already by the other path). err is a refusal (wrap it
// in an UnauthenticatedReply error reply) or a decoding error.
func openReply(key *auth.Key, cmd Command, data []byte) (r Reply, ignored bool, err error) {
	body, err := key.OpenJSON(auth.PurposeReply, data)
	if err != nil {
		return r, false, err
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return r, false, fmt.Errorf("unreadable reply: %w", err)
	}
	switch {
	case r.Command != cmd.ID && key != nil:
		return r, false, &auth.RefusedError{Purpose: auth.PurposeReply, Err: errOtherCommand}
	case r.Worker == "" || r.Command != cmd.ID || r.Name == "":
		return r, true, nil
	}
	return r, false, nil
}
