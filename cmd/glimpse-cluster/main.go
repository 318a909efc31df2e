// Command glimpse-cluster runs and inspects a glimpse-go cluster: workers,
// a local cluster, status. It serves the example functions of
// examples/funcs; a worker binary for your own functions is this same
// file with your package imported instead. Run "glimpse-cluster help".
package main

import (
	_ "github.com/glimpse-go/glimpse/examples/funcs"

	"github.com/glimpse-go/glimpse/cli"
)

func main() { cli.Main() }
