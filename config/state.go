package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// StateDirName is the directory under $XDG_STATE_HOME (or
// ~/.local/state) that holds glimpse-go's state.
const StateDirName = "glimpse"

// DefaultStoreFile is the SQLite subscriber store's file name inside the
// state directory, used when [fanout] store is empty.
const DefaultStoreFile = "fanout.db"

// ErrNoStateDir is returned by StateDir when no environment variable names
// a state directory and there is no home directory either.
var ErrNoStateDir = errors.New("no state directory: set STATE_DIRECTORY, XDG_STATE_HOME or HOME, or give [fanout] store")

// StateDir returns where glimpse-go keeps its state (the fanout worker's
// subscriber store): $STATE_DIRECTORY, set by systemd's StateDirectory=
// (its first entry when it lists several), else $XDG_STATE_HOME/glimpse,
// else ~/.local/state/glimpse. Relative values are ignored, as the XDG
// specification asks, so the state never lands in the working directory.
// StateDir does not create the directory.
func StateDir() (string, error) {
	if dir, _, _ := strings.Cut(os.Getenv("STATE_DIRECTORY"), ":"); filepath.IsAbs(dir) {
		return filepath.Clean(dir), nil
	}
	if dir := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, StateDirName), nil
	}
	home, err := os.UserHomeDir()
	if err != nil || !filepath.IsAbs(home) {
		return "", ErrNoStateDir
	}
	return filepath.Join(home, ".local", "state", StateDirName), nil
}

// StorePath returns the SQLite path or PostgreSQL URL of the subscriber
// store: f.Store when set, else DefaultStoreFile in StateDir.
func (f Fanout) StorePath() (string, error) {
	if f.Store != "" {
		return f.Store, nil
	}
	dir, err := StateDir()
	if err != nil {
		return "", &Error{Section: secFanout, Key: keyStore, Err: fmt.Errorf("empty, and %w", err)}
	}
	return filepath.Join(dir, DefaultStoreFile), nil
}
