package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/auth"
	"github.com/glimpse-go/glimpse/internal/wire"
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
// a heartbeat, if its worker matches glob and a record is at level or
// above.
func printLogMessage(e *env, topic string, data []byte, glob string, level slog.Level) {
	kind, worker := wire.TopicLog, strings.TrimPrefix(topic, wire.TopicLog)
	if strings.HasPrefix(topic, wire.TopicHeartbeat) {
		kind, worker = wire.TopicHeartbeat, strings.TrimPrefix(topic, wire.TopicHeartbeat)
	}
	if ok, _ := path.Match(glob, worker); !ok {
		return
	}
	if kind == wire.TopicHeartbeat {
		fmt.Fprintf(e.stdout, "%s heartbeat %s\n", escapeText(worker), escapeText(string(data)))
		return
	}
	if line, ok := formatRecord(data, level); ok {
		fmt.Fprintf(e.stdout, "%s %s\n", escapeText(worker), line)
	}
}

// formatRecord renders a JSON slog record as "TIME LEVEL MSG k=v ...",
// or false if it is below min.
func formatRecord(data []byte, min slog.Level) (string, bool) {
	var rec map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // 123456789, not 1.23456789e+08
	if err := dec.Decode(&rec); err != nil {
		return escapeText(string(data)), true
	}
	var level slog.Level
	if s, ok := rec["level"].(string); ok && level.UnmarshalText([]byte(s)) == nil && level < min {
		return "", false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", escapeText(fmt.Sprint(rec["time"])), escapeText(fmt.Sprint(rec["level"])),
		escapeText(fmt.Sprint(rec["msg"])))
	keys := make([]string, 0, len(rec))
	for k := range rec {
		if k != "time" && k != "level" && k != "msg" && k != "worker" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", escapeText(k), formatValue(rec[k]))
	}
	return b.String(), true
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
