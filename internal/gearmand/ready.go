package gearmand

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// waitReady polls until our child holds a listening socket on p.port and
// answers "version". A "version" answer alone is not enough: after a port
// race it could come from another gearmand holding the same port.
func (p *Process) waitReady(ctx context.Context, c *child, failFastOnConflict bool) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	conflict := false
	for {
		select {
		case <-c.done:
			return fmt.Errorf("gearmand exited before it was ready on %s: %w", p.Addr(), exitError(c.waitErr))
		default:
		}
		ours, others, err := listeners(p.port, c.cmd.Process.Pid)
		if err != nil {
			return fmt.Errorf("gearmand: check listener on %s: %w", p.Addr(), err)
		}
		switch {
		case ours:
			err := probe(ctx, p.Addr())
			if err == nil {
				return nil
			}
			if ctx.Err() != nil {
				return fmt.Errorf("gearmand on %s did not answer \"version\": %w (%w)", p.Addr(), ctx.Err(), err)
			}
		case others:
			if failFastOnConflict {
				return fmt.Errorf("gearmand: port %d: %w", p.port, errPortInUse)
			}
			conflict = true
		}
		select {
		case <-c.done:
			return fmt.Errorf("gearmand exited before it was ready on %s: %w", p.Addr(), exitError(c.waitErr))
		case <-ctx.Done():
			if conflict {
				return fmt.Errorf("gearmand: port %d: %w (%w)", p.port, errPortInUse, ctx.Err())
			}
			return fmt.Errorf("gearmand not ready on %s: %w", p.Addr(), ctx.Err())
		case <-tick.C:
		}
	}
}

func exitError(err error) error {
	if err == nil {
		return errors.New("exit status 0")
	}
	return err
}

// probe sends the admin text command "version" and reads one line back.
func probe(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, "version\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "OK") {
		return fmt.Errorf("unexpected answer to \"version\": %q", line)
	}
	return nil
}

// listeners reports whether pid holds a TCP socket listening on port at an
// address that clashes with 127.0.0.1, and whether some other process does.
func listeners(port, pid int) (ours, others bool, err error) {
	inodes := map[string]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := listenInodes(file, port, inodes); err != nil {
			if errors.Is(err, fs.ErrNotExist) && file == "/proc/net/tcp6" {
				continue // IPv6 disabled
			}
			return false, false, err
		}
	}
	if len(inodes) == 0 {
		return false, false, nil
	}
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		// The child just exited; the caller notices via its done channel.
		return false, false, nil
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
		if err != nil {
			continue
		}
		if ino, ok := strings.CutPrefix(target, "socket:["); ok && inodes[strings.TrimSuffix(ino, "]")] {
			return true, false, nil
		}
	}
	return false, true, nil
}

// Local addresses (as in /proc/net/tcp{,6}) whose listeners clash with a bind
// to 127.0.0.1: the address itself and the wildcards.
var clashingAddrs = map[string]bool{
	"0100007F":                         true, // 127.0.0.1
	"00000000":                         true, // 0.0.0.0
	"00000000000000000000000000000000": true, // ::
	"0000000000000000FFFF00000100007F": true, // ::ffff:127.0.0.1
}

// listenInodes adds the socket inodes of listeners on port from a
// /proc/net/tcp-format file to inodes.
func listenInodes(file string, port int, inodes map[string]bool) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	wantPort := fmt.Sprintf("%04X", port)
	for _, line := range bytes.Split(data, []byte("\n"))[1:] {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		f := strings.Fields(string(line))
		if len(f) < 10 || f[3] != "0A" { // 0A = TCP_LISTEN
			continue
		}
		addr, lport, ok := strings.Cut(f[1], ":")
		if ok && lport == wantPort && clashingAddrs[addr] {
			inodes[f[9]] = true
		}
	}
	return nil
}
