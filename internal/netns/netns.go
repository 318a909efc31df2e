// Package netns makes a multi-host test cluster on one machine out of Linux
// network namespaces, by running scripts/netns-cluster.sh: a namespace per
// host (gearmand, broker, worker hosts w1..w3, client), each with its own
// address on a private /24, joined by a bridge in a "switch" namespace.
// Nothing is added to the root namespace.
//
// It needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and the ip command of
// iproute2; where either is missing, Up returns an error wrapping
// ErrUnsupported, so that tests can skip:
//
//	c, err := netns.Up(ctx, netns.NewPrefix("t"))
//	if errors.Is(err, netns.ErrUnsupported) {
//		t.Skip(err)
//	}
//	t.Cleanup(func() { c.Close() })
//	cmd := c.Command("w1", "/path/to/worker", "-c", cfg)
package netns

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/internal/ids"
)

// ErrUnsupported is wrapped by the error Up returns when network namespaces
// cannot be made here: not root, no CAP_SYS_ADMIN, or no ip command.
var ErrUnsupported = errors.New("network namespaces are not available")

// Environment variables that override where the package finds its tools.
const (
	// ScriptEnv names the netns-cluster.sh to run; by default it is found
	// in scripts/ of the source tree (looking up from the working
	// directory, then from this package's source).
	ScriptEnv = "GLIMPSE_NETNS_SCRIPT"
	// IPEnv names the ip binary; by default "ip" from PATH, else
	// /usr/sbin/ip or /sbin/ip.
	IPEnv = "GLIMPSE_NETNS_IP"
)

// scriptExitUnsupported is the script's exit status for "namespaces
// cannot be made here".
const scriptExitUnsupported = 3

// Capability bits of /proc/self/status CapEff.
const (
	capNetAdmin = 12
	capSysAdmin = 21
)

// Cluster is a set of host namespaces made by Up (or found by Attach).
// Its methods are safe for concurrent use.
type Cluster struct {
	prefix string
	script string
	ip     string
	hosts  []string          // in the script's order
	addrs  map[string]string // host -> IPv4 address
	config string
	owned  bool // Close tears the namespaces down

	closeOnce sync.Once
	closeErr  error
}

// prefixRE is what the script accepts: the namespaces are PREFIX-HOST.
var prefixRE = regexp.MustCompile(`^[A-Za-z0-9]{1,20}$`)

// NewPrefix returns a prefix unique to this run, tag + pid + random: short
// (a few characters), so that names built from it stay readable, and
// carrying the pid so that ReapStale can tell leftovers of dead runs.
func NewPrefix(tag string) string {
	return fmt.Sprintf("%s%dx%s", tag, os.Getpid(), ids.New(2))
}

// Up makes the cluster's namespaces, after removing leftovers of the same
// prefix. The caller must Close it. If namespaces cannot be made here the
// error wraps ErrUnsupported.
func Up(ctx context.Context, prefix string) (*Cluster, error) {
	c, err := newCluster(prefix)
	if err != nil {
		return nil, err
	}
	if _, err := c.run(ctx, "up", prefix); err != nil {
		return nil, err
	}
	c.owned = true
	if err := c.describe(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Attach returns the cluster that Up made with prefix in another process
// (for example the parent of a test process that runs inside the client
// host). Its Close leaves the namespaces alone: they belong to the
// process that made them.
func Attach(ctx context.Context, prefix string) (*Cluster, error) {
	c, err := newCluster(prefix)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat("/run/netns/" + prefix + "-switch"); err != nil {
		return nil, fmt.Errorf("netns: no cluster with prefix %q: %w", prefix, err)
	}
	if err := c.describe(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func checkPrefix(prefix string) error {
	if !prefixRE.MatchString(prefix) {
		return fmt.Errorf("netns: prefix %q: want 1-20 letters or digits", prefix)
	}
	return nil
}

// newCluster checks the prefix, then that namespaces can be made here,
// and finds the script.
func newCluster(prefix string) (*Cluster, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	if err := Supported(); err != nil {
		return nil, err
	}
	script, err := findScript()
	if err != nil {
		return nil, err
	}
	ip, _ := findIP() // Supported checked it
	return &Cluster{prefix: prefix, script: script, ip: ip}, nil
}

// describe reads the hosts, their addresses and the config from the script.
func (c *Cluster) describe(ctx context.Context) error {
	out, err := c.run(ctx, "hosts", c.prefix)
	if err != nil {
		return err
	}
	c.addrs = map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			return fmt.Errorf("netns: %s hosts: malformed line %q", c.script, sc.Text())
		}
		c.hosts = append(c.hosts, f[0])
		c.addrs[f[0]] = f[2]
	}
	if out, err = c.run(ctx, "config", c.prefix); err != nil {
		return err
	}
	c.config = string(out)
	return nil
}

// Supported says why network namespaces cannot be made here (the error
// wraps ErrUnsupported), or returns nil if they probably can: Up may still
// find out otherwise, for example in a container that forbids mounts.
func Supported() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("netns: %w on %s", ErrUnsupported, runtime.GOOS)
	}
	if _, err := findIP(); err != nil {
		return err
	}
	if _, err := exec.LookPath("bash"); err != nil {
		return fmt.Errorf("netns: %w: no bash to run the cluster script: %w", ErrUnsupported, err)
	}
	if uid := os.Geteuid(); uid != 0 {
		return fmt.Errorf("netns: %w: need root, running as uid %d", ErrUnsupported, uid)
	}
	caps, err := effectiveCaps()
	if err != nil {
		return fmt.Errorf("netns: %w: cannot read capabilities: %w", ErrUnsupported, err)
	}
	for _, c := range []struct {
		bit  uint
		name string
	}{{capSysAdmin, "CAP_SYS_ADMIN"}, {capNetAdmin, "CAP_NET_ADMIN"}} {
		if caps&(1<<c.bit) == 0 {
			return fmt.Errorf("netns: %w: root without %s (a restricted container?)", ErrUnsupported, c.name)
		}
	}
	return nil
}

func effectiveCaps() (uint64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("no CapEff line in /proc/self/status")
}

func findIP() (string, error) {
	if p := os.Getenv(IPEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("netns: %w: $%s=%s: %w", ErrUnsupported, IPEnv, p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("ip"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/ip", "/sbin/ip", "/bin/ip"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("netns: %w: no ip command (apt-get install iproute2)", ErrUnsupported)
}

// scriptPath is where the script lives in the source tree.
const scriptPath = "scripts/netns-cluster.sh"

func findScript() (string, error) {
	if p := os.Getenv(ScriptEnv); p != "" {
		return p, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			p := filepath.Join(dir, scriptPath)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("netns: cannot find %s above %s; set $%s", scriptPath, strings.Join(starts, " or "), ScriptEnv)
}

// run runs the script and returns its stdout.
func (c *Cluster) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "bash", append([]string{c.script}, args...)...)
	cmd.Env = append(os.Environ(), "IP="+c.ip)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	msg := strings.TrimSpace(stderr.String())
	if msg == "" {
		msg = err.Error()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == scriptExitUnsupported {
		return nil, fmt.Errorf("netns: %w: %s", ErrUnsupported, msg)
	}
	return nil, fmt.Errorf("netns: %s %s: %s (%w)", filepath.Base(c.script), strings.Join(args, " "), msg, err)
}

// Close removes the namespaces (for a cluster made by Up; a no-op for one
// found by Attach). Processes still running inside lose their network but
// are not killed: stop them first. Close is idempotent.
func (c *Cluster) Close() error {
	if !c.owned {
		return nil
	}
	c.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, c.closeErr = c.run(ctx, "down", c.prefix)
	})
	return c.closeErr
}

// Prefix is the cluster's name: its namespaces are PREFIX-HOST.
func (c *Cluster) Prefix() string { return c.prefix }

// Hosts lists the hosts: gearmand, broker, the worker hosts, client.
func (c *Cluster) Hosts() []string { return slices.Clone(c.hosts) }

// WorkerHosts lists the worker hosts, w1, w2, ...
func (c *Cluster) WorkerHosts() []string {
	var ws []string
	for _, h := range c.hosts {
		if strings.HasPrefix(h, "w") {
			ws = append(ws, h)
		}
	}
	return ws
}

// Namespace is the name of a host's namespace (for ip netns exec).
func (c *Cluster) Namespace(host string) string { return c.prefix + "-" + host }

// Addr is a host's IPv4 address, "" for an unknown host.
func (c *Cluster) Addr(host string) string { return c.addrs[host] }

// HostOf is the host with the address addr, "" if none.
func (c *Cluster) HostOf(addr string) string {
	for h, a := range c.addrs {
		if a == addr {
			return h
		}
	}
	return ""
}

// Config is a config.ini for the cluster: gearmand on the gearmand host's
// port 4730, the broker's channels on the broker host's ports 9000-9003.
func (c *Cluster) Config() string { return c.config }

// Command returns a command that runs name inside host's namespace (via
// ip netns exec, which execs it: the process id is name's own). For an
// unknown host, Start returns an error.
func (c *Cluster) Command(host, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(c.ip, append([]string{"netns", "exec", c.Namespace(host), name}, args...)...)
	if _, ok := c.addrs[host]; !ok {
		cmd.Err = fmt.Errorf("netns: unknown host %q; hosts: %s", host, strings.Join(c.hosts, ", "))
	}
	return cmd
}

// Partition cuts host off the network: its port on the switch goes down,
// so everything it sends or is sent is dropped, and no socket on either
// side is told (no RST, no ICMP), as with a pulled cable.
func (c *Cluster) Partition(host string) error {
	_, err := c.run(context.Background(), "partition", c.prefix, host)
	return err
}

// Heal connects a partitioned host again.
func (c *Cluster) Heal(host string) error {
	_, err := c.run(context.Background(), "heal", c.prefix, host)
	return err
}

// SetSysctl sets a net.* sysctl inside one host's namespace only (those
// are per network namespace), e.g. SetSysctl("gearmand",
// "net.ipv4.tcp_retries2", "3").
func (c *Cluster) SetSysctl(host, key, value string) error {
	_, err := c.run(context.Background(), "sysctl", c.prefix, host, key, value)
	return err
}

// stalePrefixRE matches the namespaces of NewPrefix(tag) clusters.
func stalePrefixRE(tag string) *regexp.Regexp {
	return regexp.MustCompile(`^(` + regexp.QuoteMeta(tag) + `([0-9]+)x[0-9a-f]+)-switch$`)
}

// ReapStale removes the clusters made with NewPrefix(tag) by processes that
// no longer exist: a test binary killed before its cleanup leaves its
// namespaces behind.
func ReapStale(ctx context.Context, tag string) error {
	if err := Supported(); err != nil {
		return err
	}
	entries, err := os.ReadDir("/run/netns")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("netns: list namespaces: %w", err)
	}
	re := stalePrefixRE(tag)
	var errs []error
	for _, e := range entries {
		m := re.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[2])
		if err != nil || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue // its maker may still be running
		}
		c, err := newCluster(m[1])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := c.run(ctx, "down", c.prefix); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
