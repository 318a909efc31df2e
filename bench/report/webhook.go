package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
)

// webhookBar is issue 15's bar for webhook deliveries end to end (with
// the tasks service); the function alone is measured here.
const webhookBar = 3000

// writeWebhook is webhookbench's table.
func writeWebhook(b *strings.Builder, out, name string) error {
	var w benchjson.Webhook
	if err := benchjson.Read(filepath.Join(out, name+".json"), &w); err != nil {
		return err
	}
	if w.Calls == 0 {
		return errMissing
	}
	fmt.Fprintf(b, "`webhook.Deliver` (`glimpse.webhook`) sending %s signed form POSTs (HMAC-SHA256 header, task headers) to a Go\n", num(float64(w.Calls)))
	fmt.Fprintf(b, "net/http receiver on loopback in the bench process, which reads each body and answers 200; median of %d rounds.\n", w.Rounds)
	fmt.Fprintf(b, "The receiver counted %s of %s calls. Issue 15's bar, >= %s deliveries/s, is for the whole path with the tasks\n",
		num(float64(w.Received)), num(float64(w.Want)), num(webhookBar))
	fmt.Fprintf(b, "service; these figures are the delivery function alone.\n\n")
	fmt.Fprintf(b, "| how | deliveries/s | >= %s |\n| --- | ---: | --- |\n", num(webhookBar))
	row := func(how string, v float64) {
		ok := "yes"
		if v < webhookBar {
			ok = "**no**"
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", how, num(v), ok)
	}
	row(fmt.Sprintf("`Client.Deliver` in process, %d goroutines", w.Concurrency), w.InProcess)
	row(fmt.Sprintf("`pool.Map` `Chunksize(1)` (one Gearman job per delivery, as a task), %d workers x %d slots", w.Workers, w.Slots), w.Chunk1)
	row(fmt.Sprintf("`pool.Map` automatic chunks (up to %d deliveries per job)", w.ChunkItems), w.AutoChunks)
	fmt.Fprintln(b)
	return nil
}
