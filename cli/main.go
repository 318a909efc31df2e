package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/wire"
)

// Exit statuses of the command line.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // bad command, flags or config: nothing was done
)

// Main is the glimpse-cluster command line:
//
//	glimpse-cluster [-c FILE] COMMAND [flags]
//
// It serves the functions registered in the binary that calls it, so a
// worker binary for your own functions is
//
//	import (
//		_ "example.com/you/yourfuncs" // calls pool.Register
//		"github.com/glimpse-go/glimpse/cli"
//	)
//
//	func main() { cli.Main() }
//
// Run it with "help" for the commands. Main exits the process: 0 on
// success, 1 when a command fails, 2 for a usage or config error.
// SIGTERM and SIGINT reach the running command (a worker drains on the
// first and stops at once on the second).
func Main() {
	// Buffered so that a second signal is not lost while the first is
	// being handled: it is the one that cuts a drain short.
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	os.Exit(run(context.Background(), os.Args, os.Stdout, os.Stderr, sig))
}

// Run is Main without the process, for a program that runs a command in
// its own process: args is the command line with the program name first
// (as os.Args), the command writes to stdout and stderr, and Run returns
// the exit status instead of exiting. Ending ctx stops a command that runs
// until stopped (worker, local, broker, fanout, logs) as SIGTERM does
// under Main.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, stdout, stderr, nil)
}

// env is what a command runs with; run's arguments, so that tests can
// drive the command line in-process, signals included.
type env struct {
	prog           string // program name, for messages
	stdout, stderr io.Writer
	signals        <-chan os.Signal
	configPath     string // the global -c, "" if not given
}

// command is one glimpse-cluster command.
type command struct {
	name    string
	aliases []string
	args    string // usage of the flags and arguments
	short   string // one line, for the command list
	long    string // the help text
	run     func(ctx context.Context, e *env, c *command, args []string) int
}

// commands in the order help lists them; set in init because the help
// command refers to the list.
var commands []*command

func init() {
	commands = []*command{workerCommand, localCommand, statusCommand, functionsCommand, pingCommand, statsCommand, quitCommand, restartCommand, logsCommand, tasksCommand, dashboardCommand, httpCommand, topCommand, fanoutCommand, brokerCommand, tlsProxyCommand, keygenCommand, helpCommand}
}

func findCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
		for _, a := range c.aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

// run is Main without the process: args is os.Args (the program name
// first), and it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, signals <-chan os.Signal) int {
	prog := "glimpse-cluster"
	if len(args) > 0 && args[0] != "" {
		prog = filepath.Base(args[0])
		args = args[1:]
	}
	e := &env{prog: prog, stdout: stdout, stderr: stderr, signals: signals}
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported below, in one format
	fs.StringVar(&e.configPath, "c", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(e, stdout)
			return exitOK
		}
		return e.usageError(nil, "%v", err)
	}
	args = fs.Args()
	if len(args) == 0 {
		fmt.Fprintf(stderr, "%s: no command given\n\n", prog)
		printUsage(e, stderr)
		return exitUsage
	}
	c := findCommand(args[0])
	if c == nil {
		return e.usageError(nil, "unknown command %q; commands: %s (run %q)",
			args[0], commandList(), prog+" help")
	}
	return c.run(ctx, e, c, args[1:])
}

func commandList() string {
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
		names = append(names, c.aliases...)
	}
	return strings.Join(names, ", ")
}

func printUsage(e *env, w io.Writer) {
	fmt.Fprintf(w, `%[1]s runs and inspects a glimpse-go cluster.

Usage:
  %[1]s [-c FILE] COMMAND [flags]

Commands:
`, e.prog)
	for _, c := range commands {
		name := c.name
		if len(c.aliases) > 0 {
			name += " (" + strings.Join(c.aliases, ", ") + ")"
		}
		fmt.Fprintf(w, "  %-25s %s\n", name, c.short)
	}
	fmt.Fprintf(w, `
Flags:
  -c FILE   config file; default $%[2]s

Run "%[1]s help COMMAND" or "%[1]s COMMAND -h" for a command's flags.
Exit status: 0 success, 1 the command failed, 2 usage or config error.
`, e.prog, config.EnvVar)
}

func printCommandHelp(e *env, w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s [-c FILE] %s %s\n\n%s\n", e.prog, c.name, c.args, strings.TrimSpace(c.long))
	if len(c.aliases) > 0 {
		fmt.Fprintf(w, "\nAlias: %s\n", strings.Join(c.aliases, ", "))
	}
	if fs != nil && hasFlags(fs) {
		fmt.Fprintf(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// usageError reports a mistake of the caller and returns exitUsage. With
// c, it points at the command's help.
func (e *env) usageError(c *command, format string, args ...any) int {
	msg := fmt.Sprintf(format, args...)
	if c != nil {
		fmt.Fprintf(e.stderr, "%s %s: %s\nRun \"%s %s -h\" for help.\n", e.prog, c.name, msg, e.prog, c.name)
	} else {
		fmt.Fprintf(e.stderr, "%s: %s\n", e.prog, msg)
	}
	return exitUsage
}

// failure reports an error of a command that ran, and returns exitFailure.
func (e *env) failure(c *command, err error) int {
	fmt.Fprintf(e.stderr, "%s %s: %v\n", e.prog, c.name, err)
	return exitFailure
}

// parseFlags parses a command's flags; fs may define "c" as a command-
// level -c. ok is false when the command must stop with status code (help
// was asked for, or the flags were wrong).
func (e *env) parseFlags(c *command, fs *flag.FlagSet, args []string) (code int, ok bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandHelp(e, e.stdout, c, fs)
			return exitOK, false
		}
		return e.usageError(c, "%v", err), false
	}
	if fs.NArg() > 0 {
		return e.usageError(c, "unexpected argument %q", fs.Arg(0)), false
	}
	return 0, true
}

// loadConfig reads the config file of -c (the command's own, else the
// global one) or $GLIMPSE_CLUSTER_CONFIG. With required false, having
// none is fine and gives nil.
func (e *env) loadConfig(path string, required bool) (*config.File, error) {
	if path == "" {
		path = e.configPath
	}
	f, err := config.LoadOrEnv(path)
	if errors.Is(err, config.ErrNoConfig) && !required {
		return nil, nil
	}
	return f, err
}

// configError reports a config problem (config's errors name the file,
// line, section and key) and returns exitUsage.
func (e *env) configError(c *command, err error) int {
	fmt.Fprintf(e.stderr, "%s %s: %v\n", e.prog, c.name, err)
	return exitUsage
}

// watchSignals cancels the returned context on the first signal, for
// commands that simply stop when interrupted.
func (e *env) watchSignals(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-e.signals:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// registeredFunctions is what the worker command serves and functions
// lists; a variable so that the tests' worker processes can add functions
// whose jobs they control.
var registeredFunctions = wire.Functions

func newLogger(out io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
}
