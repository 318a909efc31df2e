package gearmand

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// defaultBinaries are tried, in order, after a PATH lookup fails: non-root
// users often lack /usr/sbin in PATH. A variable so tests can clear it.
var defaultBinaries = []string{"/usr/sbin/gearmand"}

func (p *Process) cmdArgs() []string {
	given := map[string]bool{}
	for _, a := range p.args {
		if name := flagName(a); name != "" {
			given[name] = true
		}
	}
	args := []string{
		"--listen=127.0.0.1",
		"--port=" + strconv.Itoa(p.port),
		"--log-file=" + p.logPath,
	}
	// gearmand rejects a flag given twice, so only add defaults the caller
	// did not set.
	if !given["backlog"] {
		// gearmand's default of 32 turns a burst of dials (many maps
		// starting at once) into SYN retries: 1s stalls.
		args = append(args, "--backlog=1024")
	}
	if !given["verbose"] {
		args = append(args, "--verbose=INFO")
	}
	if !given["pid-file"] {
		// The default /var/gearmand.pid would be shared by all servers and
		// is deleted by whichever exits first.
		args = append(args, "--pid-file="+p.pidPath)
	}
	if !given["config-file"] {
		// Ignore a system-wide /etc/gearmand.conf: its options could clash
		// with ours (duplicates are fatal) or listen elsewhere.
		args = append(args, "--config-file="+os.DevNull)
	}
	return append(args, p.args...)
}

// Flags this package manages itself, by long name; short forms map to them.
var (
	managedFlags = map[string]bool{"listen": true, "port": true, "log-file": true, "daemon": true}
	shortFlags   = map[byte]string{'L': "listen", 'p': "port", 'l': "log-file", 'd': "daemon", 'P': "pid-file", 'b': "backlog"}
)

// flagName returns the long name of a gearmand flag argument, or "" if arg is
// not a flag this package cares about.
func flagName(arg string) string {
	if rest, ok := strings.CutPrefix(arg, "--"); ok {
		name, _, _ := strings.Cut(rest, "=")
		return name
	}
	if len(arg) >= 2 && arg[0] == '-' {
		return shortFlags[arg[1]]
	}
	return ""
}

func checkArgs(args []string) error {
	for _, a := range args {
		if name := flagName(a); managedFlags[name] {
			return fmt.Errorf("gearmand: flag %q is managed by package gearmand; use Options instead", a)
		}
	}
	return nil
}

func findBinary(bin string) (string, error) {
	if bin != "" {
		path, err := exec.LookPath(bin)
		if err != nil {
			return "", fmt.Errorf("gearmand binary %q: %w", bin, err)
		}
		return path, nil
	}
	if path, err := exec.LookPath("gearmand"); err == nil {
		return path, nil
	}
	for _, path := range defaultBinaries {
		if _, err := exec.LookPath(path); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("%w (looked in PATH and %s)", ErrNotInstalled, strings.Join(defaultBinaries, ", "))
}
