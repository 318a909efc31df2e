package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

var logsCommand = &command{
	name:  "logs",
	args:  "[-w GLOB] [-l LEVEL] [-heartbeats]",
	short: "follow the workers' logs on the broker's log channel",
	long: `
Prints the log records every worker publishes on the log channel
([client] log_backend_url), one line each, prefixed with the worker id,
until SIGTERM or SIGINT. -w keeps the workers whose id matches the glob,
-l the records at LEVEL (debug, info, warn, error) or above; -heartbeats
also prints each worker's heartbeat (its stats, every heartbeat_interval).`,
	run: runLogs,
}

func runLogs(ctx context.Context, e *env, c *command, args []string) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	cfgPath := fs.String("c", "", "config `FILE` (default: the -c before the command, else $"+config.EnvVar+")")
	glob := fs.String("w", "*", "only workers whose id matches `GLOB`")
	levelName := fs.String("l", "debug", "only records at `LEVEL` or above")
	beats := fs.Bool("heartbeats", false, "print heartbeats too")
	if code, ok := e.parseFlags(c, fs, args); !ok {
		return code
	}
	if _, err := path.Match(*glob, ""); err != nil {
		return e.usageError(c, "-w %q: %v", *glob, err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*levelName)); err != nil {
		return e.usageError(c, "-l %q: want debug, info, warn or error", *levelName)
	}
	file, err := e.loadConfig(*cfgPath, true)
	if err != nil {
		return e.configError(c, err)
	}
	if !file.Client.HasBroker() {
		return e.configError(c, fmt.Errorf("%s: [client] log_backend_url: not set; logs needs the broker", file.Path))
	}
	ctx, cancel := e.watchSignals(ctx)
	defer cancel()
	topics := []string{wire.TopicLog}
	if *beats {
		topics = append(topics, wire.TopicHeartbeat)
	}
	peers, err := channelPeers(file.Client)
	if err != nil {
		return e.configError(c, err)
	}
	sub, err := peerLogSubscriber(file.Client, peers, topics...)
	if err != nil {
		return e.failure(c, err)
	}
	defer sub.Close()
	open := &logOpener{e: e, key: peers.Key, refused: auth.Refusals{Every: refusedWarnEvery}}
	for {
		topic, parts, err := sub.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return exitOK
			}
			return e.failure(c, err)
		}
		if data, ok := open.open(topic, parts); ok {
			printLogMessage(e, topic, data, *glob, level)
		}
	}
}

// refusedWarnEvery bounds logs' warnings about refused records.
const refusedWarnEvery = 10 * time.Second

// logOpener checks the seal of each log record and heartbeat with the
// cluster key (auth.PurposeLog, bound to the topic): with a key, only
// records its holders sealed are printed, so nobody else can put lines
// on the terminal. It warns on stderr, at most once per refusedWarnEvery,
// about the records it dropped.
type logOpener struct {
	e       *env
	key     *auth.Key
	refused auth.Refusals // Every: refusedWarnEvery
}

func (o *logOpener) open(topic string, parts [][]byte) ([]byte, bool) {
	if len(parts) != 1 {
		return nil, false
	}
	data, err := o.key.Open(auth.PurposeLog, parts[0], []byte(topic))
	if err == nil {
		return data, true
	}
	if log, skipped, _ := o.refused.Add(time.Now()); log {
		fmt.Fprintf(o.e.stderr, "logs: dropped %d record(s) not sealed with this cluster's key (last on topic %s): %v\n",
			skipped+1, escapeText(topic), err)
	}
	return nil, false
}

// printLogMessage prints one message of the log channel, a log record or
// a heartbeat (decoded by pool.ParseLogMessage, as pool.Logs does), if its
// worker matches glob and a record is at level or above. A record that
// does not decode is printed as it came, escaped.
func printLogMessage(e *env, topic string, data []byte, glob string, level slog.Level) {
	rec, err := pool.ParseLogMessage(topic, data)
	if ok, _ := path.Match(glob, rec.Worker); !ok {
		return
	}
	switch {
	case strings.HasPrefix(topic, wire.TopicHeartbeat):
		fmt.Fprintf(e.stdout, "%s heartbeat %s\n", escapeText(rec.Worker), escapeText(string(data)))
	case err != nil:
		fmt.Fprintf(e.stdout, "%s %s\n", escapeText(rec.Worker), escapeText(string(data)))
	case rec.Level >= level:
		fmt.Fprintf(e.stdout, "%s %s\n", escapeText(rec.Worker), formatRecord(rec))
	}
}

// formatRecord renders a log record as "TIME LEVEL MSG k=v ...", the keys
// sorted; "-" for a time that did not parse (its text is among the keys).
func formatRecord(rec pool.LogRecord) string {
	when := "-"
	if !rec.Time.IsZero() {
		when = rec.Time.Format(time.RFC3339Nano)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", when, rec.Level, escapeText(rec.Message))
	for _, k := range slices.Sorted(maps.Keys(rec.Attrs)) {
		fmt.Fprintf(&b, " %s=%s", escapeText(k), formatValue(rec.Attrs[k]))
	}
	return b.String()
}

// formatValue writes a record's value as slog's text handler would: text
// quoted when it has spaces or quotes, anything else as JSON.
func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		if v == "" || strings.ContainsAny(v, " \t\n\"=") || !printable(v) {
			return strconv.Quote(v)
		}
		return v
	case json.Number:
		return v.String()
	}
	data, err := json.Marshal(v)
	if err != nil {
		return escapeText(fmt.Sprint(v))
	}
	return escapeText(string(data))
}

// escapeText returns s as is when every rune of it is printable, and
// strconv.Quote'd otherwise: a worker id or record comes from the network,
// and a raw ESC, newline or C1 control in it could move the terminal's
// cursor or fake a line of another worker.
func escapeText(s string) string {
	if printable(s) {
		return s
	}
	return strconv.Quote(s)
}

// printable says whether s is valid UTF-8 holding only printable runes
// and spaces (no C0/C1 controls, no line or bidi format characters).
func printable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || (r != ' ' && !unicode.IsPrint(r)) {
			return false
		}
	}
	return true
}
