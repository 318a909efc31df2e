package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// replyQuiet ends a broadcast over the command channel early: once this
// long has passed without a new reply after the last one, every worker that
// is going to answer has (the channel has no list of workers to count).
const replyQuiet = 250 * time.Millisecond

// joinPoll is how often a broadcast over the command channel looks for
// workers that joined since it sent the command.
const joinPoll = 50 * time.Millisecond

// broadcastZMQ sends cmd on the command channel and collects the replies
// that come back on the log channel: through the broker, or with no broker
// (config.Client.Direct) on channels this client binds. It works while
// gearmand is down, but it cannot know which workers missed the command.
func broadcastZMQ(ctx context.Context, cfg config.Client, cmd pool.Command) ([]pool.Reply, error) {
	if !cfg.HasBroker() {
		return nil, errors.New("the config has no broker URLs ([client] command_frontend_url and the others)")
	}
	data, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	// Subscribe to the replies before sending, so that none is missed.
	cp, err := openClientPeers(cfg, wire.TopicReply+cmd.ID)
	if err != nil {
		return nil, err
	}
	defer cp.Close()
	byWorker, err := cp.collect(ctx, cmd.ID, data)
	if err != nil {
		return nil, err
	}
	replies := make([]pool.Reply, 0, len(byWorker))
	for _, r := range byWorker {
		replies = append(replies, r)
	}
	slices.SortFunc(replies, func(a, b pool.Reply) int { return cmp.Compare(a.Worker, b.Worker) })
	return replies, nil
}

// collect sends the command once a worker's subscription has arrived, and
// again whenever another arrives: a publisher drops what it sends before a
// subscriber joins, workers join one by one when a client with no broker
// has just bound, and a worker obeys a command id once. It returns the
// replies once replyQuiet has passed since the last reply or send (and,
// with no broker, the settle time), or when ctx ends.
func (cp *clientPeers) collect(ctx context.Context, id string, data []byte) (map[string]pool.Reply, error) {
	byWorker := map[string]pool.Reply{}
	sent := 0 // command subscriptions seen at the last send
	var last time.Time
	for {
		if n := cp.pub.Subscriptions(wire.TopicCommand); n > sent {
			if err := cp.pub.Send(wire.TopicCommand, data); err != nil {
				return nil, err
			}
			sent, last = n, time.Now()
		}
		done := len(byWorker) > 0 && !time.Now().Before(last.Add(replyQuiet)) && !time.Now().Before(cp.settle)
		if done || ctx.Err() != nil {
			break
		}
		rctx, cancel := context.WithTimeout(ctx, joinPoll)
		_, parts, err := cp.sub.Recv(rctx)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				continue
			}
			return nil, err
		}
		var r pool.Reply
		if len(parts) != 1 || json.Unmarshal(parts[0], &r) != nil || r.Command != id {
			continue
		}
		byWorker[r.Worker] = r
		last = time.Now()
	}
	if sent == 0 {
		return nil, fmt.Errorf("no worker listens on the command channel %s%s: %w", cp.url, cp.hint(), context.Cause(ctx))
	}
	return byWorker, nil
}

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
	sub, err := logSubscriber(file.Client, topics...)
	if err != nil {
		return e.failure(c, err)
	}
	defer sub.Close()
	for {
		topic, parts, err := sub.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return exitOK
			}
			return e.failure(c, err)
		}
		if len(parts) != 1 {
			continue
		}
		kind, worker := wire.TopicLog, strings.TrimPrefix(topic, wire.TopicLog)
		if strings.HasPrefix(topic, wire.TopicHeartbeat) {
			kind, worker = wire.TopicHeartbeat, strings.TrimPrefix(topic, wire.TopicHeartbeat)
		}
		if ok, _ := path.Match(*glob, worker); !ok {
			continue
		}
		if kind == wire.TopicHeartbeat {
			fmt.Fprintf(e.stdout, "%s heartbeat %s\n", worker, parts[0])
			continue
		}
		if line, ok := formatRecord(parts[0], level); ok {
			fmt.Fprintf(e.stdout, "%s %s\n", worker, line)
		}
	}
}

// formatRecord renders a JSON slog record as "TIME LEVEL MSG k=v ...",
// or false if it is below min.
func formatRecord(data []byte, min slog.Level) (string, bool) {
	var rec map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // 123456789, not 1.23456789e+08
	if err := dec.Decode(&rec); err != nil {
		return string(data), true
	}
	var level slog.Level
	if s, ok := rec["level"].(string); ok && level.UnmarshalText([]byte(s)) == nil && level < min {
		return "", false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%v %v %v", rec["time"], rec["level"], rec["msg"])
	keys := make([]string, 0, len(rec))
	for k := range rec {
		if k != "time" && k != "level" && k != "msg" && k != "worker" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, formatValue(rec[k]))
	}
	return b.String(), true
}

// formatValue writes a record's value as slog's text handler would: text
// quoted when it has spaces or quotes, anything else as JSON.
func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		if v == "" || strings.ContainsAny(v, " \t\n\"=") {
			return strconv.Quote(v)
		}
		return v
	case json.Number:
		return v.String()
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}
