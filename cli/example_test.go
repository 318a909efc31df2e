package cli_test

import (
	"context"
	"fmt"
	"os"

	"github.com/glimpse-go/glimpse/cli"
)

// Run runs one glimpse-cluster command in this process and returns its
// exit status; Main does the same with os.Args, and exits with it.
func ExampleRun() {
	ctx := context.Background()
	code := cli.Run(ctx, []string{"glimpse-cluster", "help", "help"}, os.Stdout, os.Stderr)
	fmt.Println("exit status", code)

	// A usage error: status 2, and the message on stderr (here stdout).
	code = cli.Run(ctx, []string{"glimpse-cluster", "status", "-t", "0"}, os.Stdout, os.Stdout)
	fmt.Println("exit status", code)
	// Output:
	// Usage: glimpse-cluster [-c FILE] help [COMMAND]
	//
	// Shows the list of commands, or the help of one command.
	// exit status 0
	// glimpse-cluster status: -t 0s: must be positive
	// Run "glimpse-cluster status -h" for help.
	// exit status 2
}

// Main is the whole main function of a worker binary for your own
// functions: import the package that registers them, and call Main.
//
//	package main
//
//	import (
//		_ "example.com/you/yourfuncs" // calls pool.Register
//		"github.com/glimpse-go/glimpse/cli"
//	)
//
//	func main() { cli.Main() }
//
// Then "yourworker -c config.ini worker -n 8" serves them on a cluster,
// "yourworker local" starts a cluster of its own, and "yourworker functions"
// lists what it registers. Main exits the process, so this Example has no
// output to check (Run is the same without the exit).
func ExampleMain() {
	cli.Main()
}
