package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/glimpse-go/glimpse/internal/auth"
)

// keyFileName is the file keygen writes in its -o directory.
const keyFileName = "cluster.key"

var keygenCommand = &command{
	name:  "keygen",
	args:  "[-o DIR]",
	short: "write a new cluster key (mode 0600)",
	long: `
Writes a new random cluster key to DIR/cluster.key (mode 0600; an
existing file is never overwritten) and prints the line that names it in
config.ini. Copy the file to every host of the cluster, next to its
config, readable only by the user that runs glimpse, and set
[client] key_file. With a key, commands, replies, chunks and results are
signed and the ZeroMQ channels use CURVE. See SECURITY.md.`,
	run: func(ctx context.Context, e *env, c *command, args []string) int {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		dir := fs.String("o", ".", "directory to write "+keyFileName+" in (created mode 0700 if missing)")
		if code, ok := e.parseFlags(c, fs, args); !ok {
			return code
		}
		path, err := writeNewKey(*dir)
		if err != nil {
			return e.failure(c, err)
		}
		k, err := auth.LoadKey(path)
		if err != nil {
			return e.failure(c, err)
		}
		fmt.Fprintf(e.stdout, "wrote %s (key %s)\nin config.ini, under [client]:\nkey_file = %s\n", path, k.ID(), path)
		return exitOK
	},
}

// writeNewKey makes dir if needed and writes a fresh key there.
func writeNewKey(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(filepath.Join(dir, keyFileName))
	if err != nil {
		return "", err
	}
	k, err := auth.GenerateKey()
	if err != nil {
		return "", err
	}
	return abs, k.WriteFile(abs)
}
