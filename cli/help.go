package cli

import (
	"context"
)

var helpCommand = &command{
	name:  "help",
	args:  "[COMMAND]",
	short: "show this help, or a command's",
	long:  "Shows the list of commands, or the help of one command.",
	run: func(ctx context.Context, e *env, _ *command, args []string) int {
		switch len(args) {
		case 0:
			printUsage(e, e.stdout)
			return exitOK
		case 1:
			if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
				args[0] = "help"
			}
			c := findCommand(args[0])
			if c == nil {
				return e.usageError(nil, "unknown command %q; commands: %s", args[0], commandList())
			}
			if c.name == "help" {
				printCommandHelp(e, e.stdout, c, nil)
				return exitOK
			}
			// The command prints its own help, flags included.
			return c.run(ctx, e, c, []string{"-h"})
		default:
			return e.usageError(nil, "help takes at most one command, got %q", args)
		}
	},
}
