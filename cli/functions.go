package cli

import (
	"context"
	"flag"
	"fmt"
)

var functionsCommand = &command{
	name:  "functions",
	short: "list the functions this binary serves",
	long: `
Lists the functions registered in this binary (pool.Register) with the
Gearman function that carries their chunks.`,
	run: func(ctx context.Context, e *env, c *command, args []string) int {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		if code, ok := e.parseFlags(c, fs, args); !ok {
			return code
		}
		fns := registeredFunctions()
		if len(fns) == 0 {
			fmt.Fprintln(e.stderr, "no functions are registered in this binary")
			return exitOK
		}
		t := newTable(e.stdout, "NAME", "GEARMAN FUNCTION")
		for _, f := range fns {
			t.row(f.Name(), f.GearmanName())
		}
		t.flush()
		return exitOK
	},
}
