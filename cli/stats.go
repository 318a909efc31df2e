package cli

import (
	"encoding/json"
	"io"

	"github.com/glimpse-go/glimpse/pool"
)

var statsCommand = broadcastCommand(pool.CommandStats, nil,
	"print every worker's stats as JSON, one line each",
	"\nLike ping, for scripts: one JSON object per worker.\n")

// printStats writes each worker's stats as one JSON object a line.
func printStats(w io.Writer, replies []pool.Reply) {
	enc := json.NewEncoder(w)
	for _, r := range replies {
		if r.Stats != nil {
			enc.Encode(r.Stats)
		}
	}
}
