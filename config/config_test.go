package config

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const fullFile = `; a full file
[client]
job_server_url = g1:4730, g2:4731
command_frontend_url = tcp://broker:9000 ; clients publish commands here
command_backend_url  = tcp://broker:9001
log_frontend_url     = tcp://broker:9002
log_backend_url      = tcp://broker:9003
zmq_max_message_size = 4194304

[server]
command_frontend_url = tcp://*:9000
command_backend_url  = tcp://0.0.0.0:9001
log_frontend_url     = ipc:///run/glimpse/log-in
log_backend_url      = inproc://logs

[worker]
slots = 8
functions = imaging.resize, square ,ns:fn-2_x
shutdown_timeout = 1m30s
heartbeat_interval = 2s
log_level = DEBUG
subscription_renewal = 1m
max_chunk_bytes = 1048576
max_chunk_items = 5000
max_expansion = 10
chunk_time_limit = 90s
crash_loop_limit = 5
webhooks = false
shared_cache_bytes = 268435456

[fanout]
store = postgres://glimpse@db/glimpse?sslmode=disable
copy_timeout = 10s
prune_after = 2m
max_payload = 4096
max_subscribers = 50

[http]
webhook_secret = 0123456789abcdef0123
webhook_timeout = 5s
`

func TestParseFullFile(t *testing.T) {
	f, err := Parse("config.ini", []byte(fullFile))
	if err != nil {
		t.Fatal(err)
	}
	want := &File{
		Path: "config.ini",
		Client: Client{
			JobServers:         []string{"g1:4730", "g2:4731"},
			CommandFrontendURL: "tcp://broker:9000",
			CommandBackendURL:  "tcp://broker:9001",
			LogFrontendURL:     "tcp://broker:9002",
			LogBackendURL:      "tcp://broker:9003",
			ZMQMaxMessageSize:  4 << 20,
		},
		Server: Server{
			CommandFrontendURL: "tcp://*:9000",
			CommandBackendURL:  "tcp://0.0.0.0:9001",
			LogFrontendURL:     "ipc:///run/glimpse/log-in",
			LogBackendURL:      "inproc://logs",
		},
		Worker: Worker{
			Slots:             8,
			Functions:         []string{"imaging.resize", "square", "ns:fn-2_x"},
			ShutdownTimeout:   90 * time.Second,
			HeartbeatInterval: 2 * time.Second,
			LogLevel:          slog.LevelDebug,

			SubscriptionRenewal: time.Minute,

			MaxChunkBytes:  1 << 20,
			MaxChunkItems:  5000,
			MaxExpansion:   10,
			ChunkTimeLimit: 90 * time.Second,
			CrashLoopLimit: 5,

			SharedCacheBytes: 256 << 20,
		},
		Fanout: Fanout{
			Store:       "postgres://glimpse@db/glimpse?sslmode=disable",
			CopyTimeout: 10 * time.Second,
			PruneAfter:  2 * time.Minute,

			MaxPayload:     4096,
			MaxSubscribers: 50,
		},
		HTTP: func() HTTP {
			h := DefaultHTTP()
			h.WebhookSecret, h.WebhookTimeout = "0123456789abcdef0123", 5*time.Second
			return h
		}(),
		Tasks: DefaultTasks(),
	}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("got  %+v\nwant %+v", f, want)
	}
	if !f.HasServer() || !f.Client.HasBroker() {
		t.Error("HasServer/HasBroker false for a file with both")
	}
}

func TestParseMinimalGivesDefaults(t *testing.T) {
	f, err := Parse("min.ini", []byte("[client]\njob_server_url = localhost\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Client.JobServers; !reflect.DeepEqual(got, []string{"localhost:4730"}) {
		t.Errorf("JobServers = %q", got)
	}
	if !reflect.DeepEqual(f.Worker, DefaultWorker()) {
		t.Errorf("Worker = %+v, want defaults %+v", f.Worker, DefaultWorker())
	}
	if !reflect.DeepEqual(f.Fanout, DefaultFanout()) {
		t.Errorf("Fanout = %+v, want defaults %+v", f.Fanout, DefaultFanout())
	}
	if f.HasServer() || f.Client.HasBroker() {
		t.Error("HasServer/HasBroker true for a file without URLs")
	}
	w := DefaultWorker()
	if w.ShutdownTimeout != 5*time.Minute || w.HeartbeatInterval != 5*time.Second || w.LogLevel != slog.LevelInfo || w.Slots != 0 ||
		w.SubscriptionRenewal != 30*time.Second {
		t.Errorf("DefaultWorker() = %+v", w)
	}
	fo := DefaultFanout()
	if fo.Store != "" || fo.CopyTimeout != 30*time.Second || fo.PruneAfter != time.Minute {
		t.Errorf("DefaultFanout() = %+v", fo)
	}
}

func TestJobServers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"h:1", []string{"h:1"}},
		{"h", []string{"h:4730"}},
		{"a:4730,b:4731", []string{"a:4730", "b:4731"}},
		{"  a , b:9 ,c  ", []string{"a:4730", "b:9", "c:4730"}},
		{"10.0.0.1:4730,10.0.0.2", []string{"10.0.0.1:4730", "10.0.0.2:4730"}},
		{"[::1]:4731, [fe80::1]", []string{"[::1]:4731", "[fe80::1]:4730"}},
		{"h:0080", []string{"h:80"}},
		{"gearman_1.internal:65535", []string{"gearman_1.internal:65535"}},
	} {
		f, err := Parse("c.ini", []byte("[client]\njob_server_url = "+tc.in+"\n"))
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(f.Client.JobServers, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.in, f.Client.JobServers, tc.want)
		}
	}
}

func TestCommentsAndSyntax(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"semicolon and hash lines", "; c\n# c\n[client]\n  ; indented\njob_server_url = a\n"},
		{"inline comments", "[client] ; the client\njob_server_url = a:1 # one\n"},
		{"inline comment right after value", "[client]\njob_server_url = a:1;one\n"},
		{"colon delimiter", "[client]\njob_server_url: a:1\n"},
		{"uppercase key", "[client]\nJOB_SERVER_URL = a:1\n"},
		{"CRLF", "[client]\r\njob_server_url = a:1\r\n"},
		{"BOM", "\ufeff[client]\njob_server_url = a:1\n"},
		{"no final newline", "[client]\njob_server_url = a:1"},
		{"quoted", "[client]\njob_server_url = \"a:1\"\n"},
	} {
		f, err := Parse("c.ini", []byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(f.Client.JobServers) != 1 || !strings.HasPrefix(f.Client.JobServers[0], "a:") {
			t.Errorf("%s: JobServers = %q", tc.name, f.Client.JobServers)
		}
	}

	// Double quotes keep ';' and '#' in a value.
	f, err := Parse("c.ini", []byte("[client]\njob_server_url = a\n[server]\n"+
		"command_frontend_url = \"ipc:///tmp/a;b\" ; comment\ncommand_backend_url = \"inproc://x#1\"\n"+
		"log_frontend_url = inproc://c\nlog_backend_url = inproc://d\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Server.CommandFrontendURL != "ipc:///tmp/a;b" || f.Server.CommandBackendURL != "inproc://x#1" {
		t.Errorf("quoted values: %+v", f.Server)
	}

	// An empty value is the default, not an error (job_server_url aside).
	f, err = Parse("c.ini", []byte("[client]\njob_server_url=a\ncommand_frontend_url =\n[worker]\nslots=\nfunctions =\nlog_level=\n[fanout]\nstore =\ncopy_timeout=\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Worker, DefaultWorker()) || !reflect.DeepEqual(f.Fanout, DefaultFanout()) {
		t.Errorf("empty values: %+v %+v", f.Worker, f.Fanout)
	}
}

// TestErrors checks each rule: the error is an *Error naming the file, the
// section and the key, and its text says what is wrong.
func TestErrors(t *testing.T) {
	const client = "[client]\njob_server_url = a\n"
	const urls = "command_frontend_url = tcp://b:1\ncommand_backend_url = tcp://b:2\nlog_frontend_url = tcp://b:3\nlog_backend_url = tcp://b:4\n"
	for _, tc := range []struct {
		name, in, section, key, msg string
	}{
		// [client] job_server_url
		{"port not a number", "[client]\njob_server_url = host:notaport\n", "client", "job_server_url", `"host:notaport": port "notaport" is not 1-65535`},
		{"port 0", "[client]\njob_server_url = h:0\n", "client", "job_server_url", `port "0" is not 1-65535`},
		{"port too big", "[client]\njob_server_url = h:65536\n", "client", "job_server_url", `port "65536" is not 1-65535`},
		{"port with sign", "[client]\njob_server_url = h:+80\n", "client", "job_server_url", `port "+80" is not 1-65535`},
		{"empty port", "[client]\njob_server_url = h:\n", "client", "job_server_url", `port "" is not 1-65535`},
		{"empty host", "[client]\njob_server_url = :4730\n", "client", "job_server_url", "empty host"},
		{"bad host", "[client]\njob_server_url = ho/st:1\n", "client", "job_server_url", `host "ho/st" is not`},
		{"scheme", "[client]\njob_server_url = gearman://h:1\n", "client", "job_server_url", "without a scheme"},
		{"bare IPv6", "[client]\njob_server_url = ::1\n", "client", "job_server_url", "brackets"},
		{"duplicate", "[client]\njob_server_url = a:1, b, a:1\n", "client", "job_server_url", `"a:1": listed twice`},
		{"duplicate by default port", "[client]\njob_server_url = a, A:4730\n", "client", "job_server_url", `"A:4730": same job server as "a"`},
		{"stray comma", "[client]\njob_server_url = a,\n", "client", "job_server_url", "stray comma"},
		{"missing key", "[client]\ncommand_frontend_url =\n", "client", "job_server_url", "missing"},
		{"empty value", "[client]\njob_server_url =\n", "client", "job_server_url", "missing"},
		{"missing client", "[worker]\nslots = 1\n", "client", "job_server_url", "[client] section"},
		{"empty file", "", "client", "job_server_url", "[client] section"},

		// [client] zmq_max_message_size
		{"zmq max message size zero", client + "zmq_max_message_size = 0\n", "client", "zmq_max_message_size", `"0": must be a number of bytes, more than 0`},
		{"zmq max message size words", client + "zmq_max_message_size = 1MB\n", "client", "zmq_max_message_size", `"1MB": must be a number of bytes`},

		// zmq URLs
		{"client URLs partial", client + "command_frontend_url = tcp://b:1\n", "client", "log_backend_url", "all or none"},
		{"client wildcard host", client + strings.Replace(urls, "tcp://b:1", "tcp://*:1", 1), "client", "command_frontend_url", `host "*" is for binding`},
		{"URL without scheme", client + strings.Replace(urls, "tcp://b:2", "b:2", 1), "client", "command_backend_url", "want tcp://host:port, ipc://path or inproc://name"},
		{"URL bad scheme", client + strings.Replace(urls, "tcp://b:3", "udp://b:3", 1), "client", "log_frontend_url", `unsupported scheme "udp"`},
		{"tcp without port", client + strings.Replace(urls, "tcp://b:4", "tcp://b", 1), "client", "log_backend_url", "want tcp://host:port"},
		{"tcp bad port", client + strings.Replace(urls, "tcp://b:4", "tcp://b:x", 1), "client", "log_backend_url", `port "x" is not 1-65535`},
		{"empty ipc", client + strings.Replace(urls, "tcp://b:4", "ipc://", 1), "client", "log_backend_url", "empty ipc address"},
		{"empty inproc", client + strings.Replace(urls, "tcp://b:4", "inproc://", 1), "client", "log_backend_url", "empty inproc address"},
		{"half broker: command pair equal", client + strings.Replace(urls, "tcp://b:2", "tcp://b:1", 1), "client", "command_backend_url",
			"same URL as command_frontend_url, but log_frontend_url and log_backend_url differ"},
		{"half broker: log pair equal", client + strings.Replace(urls, "tcp://b:4", "tcp://b:3", 1), "client", "log_backend_url",
			"same URL as log_frontend_url, but command_frontend_url and command_backend_url differ"},
		{"broker URL twice", client + strings.Replace(urls, "tcp://b:3", "tcp://b:1", 1), "client", "log_frontend_url", "same URL as command_frontend_url"},
		{"no broker, one URL for both channels", client + direct("tcp://c:9", "tcp://c:9"), "client", "log_frontend_url", "the command and log channels need a URL each"},
		{"no broker over inproc", client + direct("tcp://c:9", "inproc://l"), "client", "command_frontend_url", "inproc endpoints are private"},
		{"no broker, yet [server]", client + direct("tcp://c:9", "tcp://c:10") + "[server]\n" + strings.ReplaceAll(urls, "tcp://b:", "tcp://*:"), "server", "",
			"no broker runs with these [client] URLs"},
		{"server URLs partial", client + "[server]\nlog_backend_url = tcp://*:9\n", "server", "command_frontend_url", "all or none"},
		{"server bad port", client + "[server]\n" + strings.Replace(urls, "tcp://b:1", "tcp://*:0", 1), "server", "command_frontend_url", `port "0"`},
		{"server wildcard port", client + "[server]\n" + strings.Replace(urls, "tcp://b:1", "tcp://*:*", 1), "server", "command_frontend_url", `port "*"`},

		// [worker]
		{"slots negative", client + "[worker]\nslots = -1\n", "worker", "slots", "0 (one slot per CPU) or more"},
		{"slots not a number", client + "[worker]\nslots = four\n", "worker", "slots", `"four": not a whole number`},
		{"function bad char", client + "[worker]\nfunctions = a, b c\n", "worker", "functions", `"b c": not a function name`},
		{"function too long", client + "[worker]\nfunctions = " + strings.Repeat("x", 201) + "\n", "worker", "functions", "not a function name"},
		{"function twice", client + "[worker]\nfunctions = a, b, a\n", "worker", "functions", `"a": listed twice`},
		{"function stray comma", client + "[worker]\nfunctions = a,,b\n", "worker", "functions", "stray comma"},
		{"shutdown_timeout no unit", client + "[worker]\nshutdown_timeout = 5\n", "worker", "shutdown_timeout", `"5": not a duration`},
		{"shutdown_timeout zero", client + "[worker]\nshutdown_timeout = 0s\n", "worker", "shutdown_timeout", "must be positive"},
		{"heartbeat negative", client + "[worker]\nheartbeat_interval = -1s\n", "worker", "heartbeat_interval", "must be positive"},
		{"heartbeat garbage", client + "[worker]\nheartbeat_interval = often\n", "worker", "heartbeat_interval", "not a duration"},
		{"subscription_renewal zero", client + "[worker]\nsubscription_renewal = 0s\n", "worker", "subscription_renewal", "must be positive"},
		{"subscription_renewal garbage", client + "[worker]\nsubscription_renewal = 30\n", "worker", "subscription_renewal", `"30": not a duration`},
		{"log_level", client + "[worker]\nlog_level = loud\n", "worker", "log_level", `"loud": want debug, info, warn or error`},

		// [fanout]
		{"store scheme", client + "[fanout]\nstore = mysql://db/x\n", "fanout", "store", `unsupported scheme "mysql"`},
		{"store bad URL", client + "[fanout]\nstore = postgres://u@h:port/db\n", "fanout", "store", "not a valid postgres:// URL"},
		{"copy_timeout", client + "[fanout]\ncopy_timeout = 0\n", "fanout", "copy_timeout", "must be positive"},
		{"copy_timeout garbage", client + "[fanout]\ncopy_timeout = soon\n", "fanout", "copy_timeout", "not a duration"},
		{"prune_after", client + "[fanout]\nprune_after = -5m\n", "fanout", "prune_after", "must be positive"},
		{"max_chunk_bytes negative", client + "[worker]\nmax_chunk_bytes = -1\n", "worker", "max_chunk_bytes", "-1: must be a number of bytes, or 0 for the default"},
		{"max_chunk_items garbage", client + "[worker]\nmax_chunk_items = 1e6\n", "worker", "max_chunk_items", `"1e6": not a whole number`},
		{"max_expansion negative", client + "[worker]\nmax_expansion = -8\n", "worker", "max_expansion", "must be a multiple of the payload"},
		{"chunk_time_limit negative", client + "[worker]\nchunk_time_limit = -1s\n", "worker", "chunk_time_limit", "-1s: must be a duration, or 0 for the default"},
		{"crash_loop_limit negative", client + "[worker]\ncrash_loop_limit = -3\n", "worker", "crash_loop_limit", "must be a number of worker processes"},
		{"max_payload negative", client + "[fanout]\nmax_payload = -1\n", "fanout", "max_payload", "must be a number of bytes"},
		{"max_payload garbage", client + "[fanout]\nmax_payload = 1MB\n", "fanout", "max_payload", `"1MB": not a whole number`},
		{"max_subscribers negative", client + "[fanout]\nmax_subscribers = -3\n", "fanout", "max_subscribers", "must be a number of subscribers"},

		// names
		{"unknown section", client + "[clinet]\n", "clinet", "", "unknown section"},
		{"section case hint", client + "[Worker]\nslots = 1\n", "Worker", "", "did you mean [worker]?"},
		{"child section", client + "[client.extra]\n", "client.extra", "", "unknown section"},
		{"unknown key", client + "job_servers = a\n", "client", "job_servers", "unknown key; [client] takes job_server_url"},
		{"key hint", client + "[worker]\nlog-level = info\n", "worker", "log-level", "did you mean log_level?"},
		{"key in wrong section", client + "[worker]\nstore = x.db\n", "worker", "store", "store belongs in [fanout]"},
		{"key in DEFAULT", "slots = 2\n" + client, "DEFAULT", "slots", "put it under [worker]"},
		{"explicit DEFAULT", "[DEFAULT]\nfoo = 1\n" + client, "DEFAULT", "foo", "outside any section"},
		{"key twice", client + "job_server_url = b\n", "client", "job_server_url", "given 2 times"},
		{"key twice same value", client + "[worker]\nslots = 1\nSLOTS = 1\n", "worker", "slots", "given 2 times"},
		{"section twice, key twice", client + "[worker]\nslots=1\n[worker]\nslots=2\n", "worker", "slots", "given 2 times"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("config.ini", []byte(tc.in))
			if err == nil {
				t.Fatalf("no error for:\n%s", tc.in)
			}
			e := findError(err, tc.section, tc.key)
			if e == nil {
				t.Fatalf("no *Error for [%s] %s in: %v", tc.section, tc.key, err)
			}
			if e.File != "config.ini" {
				t.Errorf("File = %q", e.File)
			}
			msg := e.Error()
			if !strings.HasPrefix(msg, "config.ini") {
				t.Errorf("message does not name the file: %s", msg)
			}
			where := "[" + tc.section + "]"
			if tc.key != "" {
				where += " " + tc.key
			}
			if !strings.Contains(msg, where) {
				t.Errorf("message does not name %s: %s", where, msg)
			}
			if !strings.Contains(msg, tc.msg) {
				t.Errorf("message lacks %q: %s", tc.msg, msg)
			}
		})
	}
}

// findError returns the *Error for section and key among the joined errors.
func findError(err error, section, key string) *Error {
	for _, e := range allErrors(err) {
		if e.Section == section && e.Key == key {
			return e
		}
	}
	return nil
}

// allErrors flattens what Parse returns, and fails loudly on anything
// that is not an *Error, which the API promises never happens.
func allErrors(err error) []*Error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*Error); ok {
		return []*Error{e}
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		panic("not an *Error or a join of them: " + err.Error())
	}
	var out []*Error
	for _, e := range j.Unwrap() {
		out = append(out, allErrors(e)...)
	}
	return out
}

func TestSeveralProblemsReported(t *testing.T) {
	in := "[client]\n" + // 1
		"job_server_url = a:x, b:0\n" + // 2
		"[worker]\n" + // 3
		"slots = -2\n" + // 4
		"bogus = 1\n" + // 5
		"[fanout]\n" + // 6
		"copy_timeout = 1\n" // 7
	_, err := Parse("multi.ini", []byte(in))
	errs := allErrors(err)
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{
		`multi.ini:2: [client] job_server_url: "a:x": port "x" is not 1-65535`,
		`multi.ini:2: [client] job_server_url: "b:0": port "0" is not 1-65535`,
		`multi.ini:4: [worker] slots: -2: must be 0 (one slot per CPU) or more`,
		`multi.ini:5: [worker] bogus: unknown key; [worker] takes slots, functions, shutdown_timeout, heartbeat_interval, log_level, subscription_renewal, ` +
			`max_chunk_bytes, max_chunk_items, max_expansion, chunk_time_limit, crash_loop_limit, webhooks, shared_cache_bytes, metrics`,
		`multi.ini:7: [fanout] copy_timeout: "1": not a duration (write e.g. 30s, 5m, 1h30m)`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var e *Error
	if !errors.As(err, &e) || e.Key != "job_server_url" {
		t.Errorf("errors.As gave %+v", e)
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		line int
		msg  string
	}{
		{"[client]\njob_server_url = a\njunk\n", 3, `"junk": not a [section] header or a key = value line`},
		{"[client\njob_server_url = a\n", 1, "without its closing ']'"},
		{"[client]\n = a\n", 2, "no key name"},
		{"; c\n[]\n", 2, "empty section name"},
		{"[client]\njob_server_url = `a\n", 0, "syntax error"},
	} {
		_, err := Parse("s.ini", []byte(tc.in))
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%q: want *Error, got %v", tc.in, err)
			continue
		}
		if e.File != "s.ini" || e.Line != tc.line || !strings.Contains(e.Error(), tc.msg) {
			t.Errorf("%q: got %+v (%v), want line %d and %q", tc.in, e, e, tc.line, tc.msg)
		}
	}
}

func TestLineNumbers(t *testing.T) {
	in := "; header\n\n[client]\njob_server_url = a\n\n[worker]\n  # c\nLOG_LEVEL = x\n"
	_, err := Parse("l.ini", []byte(in))
	e := findError(err, "worker", "log_level")
	if e == nil || e.Line != 8 {
		t.Fatalf("got %v, want line 8", err)
	}
	// A missing key points at its section's header.
	_, err = Parse("l.ini", []byte("\n[client]\n"))
	if e := findError(err, "client", "job_server_url"); e == nil || e.Line != 2 {
		t.Fatalf("got %v, want line 2", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.ini")
	if err := os.WriteFile(path, []byte(fullFile), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != path || len(f.Client.JobServers) != 2 {
		t.Errorf("Load: %+v", f)
	}

	// Errors from a loaded file name its path.
	if err := os.WriteFile(path, []byte("[client]\njob_server_url = a:0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":2: [client] job_server_url:") {
		t.Errorf("Load of a bad file: %v", err)
	}
}

func TestLoadNotExist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.ini")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("errors.Is(%v, fs.ErrNotExist) = false", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error does not name the path: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.File != path {
		t.Errorf("errors.As: %+v", e)
	}
	if strings.Count(err.Error(), path) != 1 {
		t.Errorf("path repeated: %v", err)
	}
	if _, err := Load(""); err == nil {
		t.Error("Load(\"\") succeeded")
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvVar, "")
	if _, err := FromEnv(); !errors.Is(err, ErrNoConfig) || !strings.Contains(err.Error(), EnvVar) {
		t.Errorf("unset: %v", err)
	}
	if _, err := LoadOrEnv(""); !errors.Is(err, ErrNoConfig) {
		t.Errorf("LoadOrEnv unset: %v", err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "env.ini")
	if err := os.WriteFile(path, []byte("[client]\njob_server_url = envhost\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvVar, path)
	f, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != path || f.Client.JobServers[0] != "envhost:4730" {
		t.Errorf("FromEnv: %+v", f)
	}
	if f, err := LoadOrEnv(""); err != nil || f.Path != path {
		t.Errorf("LoadOrEnv(\"\") = %+v, %v; want the env file", f, err)
	}

	// The flag wins over the environment.
	flagPath := filepath.Join(dir, "flag.ini")
	if err := os.WriteFile(flagPath, []byte("[client]\njob_server_url = flaghost\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if f, err := LoadOrEnv(flagPath); err != nil || f.Client.JobServers[0] != "flaghost:4730" {
		t.Errorf("LoadOrEnv(flag) = %+v, %v", f, err)
	}

	t.Setenv(EnvVar, filepath.Join(dir, "missing.ini"))
	if _, err := FromEnv(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("env names a missing file: %v", err)
	}
}

// TestExampleFile keeps config.ini.example parseable, documenting every key,
// and honest about the defaults it claims to show.
func TestExampleFile(t *testing.T) {
	const path = "../config.ini.example"
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !f.HasServer() || !f.Client.HasBroker() || len(f.Client.JobServers) == 0 {
		t.Errorf("example lacks [server], broker URLs or job servers: %+v", f)
	}
	if !reflect.DeepEqual(f.Worker, DefaultWorker()) {
		t.Errorf("example [worker] = %+v, want the defaults %+v", f.Worker, DefaultWorker())
	}
	if !reflect.DeepEqual(f.Fanout, DefaultFanout()) {
		t.Errorf("example [fanout] = %+v, want the defaults %+v", f.Fanout, DefaultFanout())
	}
	if !reflect.DeepEqual(f.HTTP, DefaultHTTP()) {
		t.Errorf("example [http] = %+v, want the defaults %+v", f.HTTP, DefaultHTTP())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := indexLines(data)
	for section, keys := range sectionKeys {
		for _, k := range keys {
			if _, ok := lines.keys[[2]string{section, k}]; !ok {
				t.Errorf("config.ini.example does not show [%s] %s", section, k)
			}
		}
	}
}

func TestClientValidate(t *testing.T) {
	good := Client{JobServers: []string{"a:4730", "[::1]:4731"}}
	if err := good.Validate(); err != nil {
		t.Errorf("valid client: %v", err)
	}
	withURLs := good
	withURLs.CommandFrontendURL, withURLs.CommandBackendURL = "tcp://b:1", "tcp://b:2"
	withURLs.LogFrontendURL, withURLs.LogBackendURL = "ipc:///tmp/l", "inproc://l"
	if err := withURLs.Validate(); err != nil {
		t.Errorf("valid client with URLs: %v", err)
	}
	for _, tc := range []struct {
		name string
		c    Client
		key  string
		msg  string
	}{
		{"no job servers", Client{}, "job_server_url", "missing"},
		{"port required in code", Client{JobServers: []string{"a"}}, "job_server_url", `"a": want host:port`},
		{"bad port", Client{JobServers: []string{"a:99999"}}, "job_server_url", `port "99999"`},
		{"duplicate", Client{JobServers: []string{"a:1", "a:1"}}, "job_server_url", "listed twice"},
		{"partial URLs", Client{JobServers: []string{"a:1"}, LogBackendURL: "tcp://b:1"}, "command_frontend_url", "all or none"},
		{"wildcard", Client{JobServers: []string{"a:1"}, CommandFrontendURL: "tcp://*:1", CommandBackendURL: "tcp://b:2",
			LogFrontendURL: "tcp://b:3", LogBackendURL: "tcp://b:4"}, "command_frontend_url", "for binding"},
	} {
		err := tc.c.Validate()
		e := findError(err, "client", tc.key)
		if e == nil {
			t.Errorf("%s: no error for [client] %s in %v", tc.name, tc.key, err)
			continue
		}
		// Built in code: no file to name, the section and key still named.
		if !strings.HasPrefix(e.Error(), "[client] "+tc.key+": ") || !strings.Contains(e.Error(), tc.msg) {
			t.Errorf("%s: %v", tc.name, e)
		}
	}
}

// direct is [client]'s URLs for a cluster with no broker: each frontend
// equal to its backend.
func direct(cmd, log string) string {
	return "command_frontend_url = " + cmd + "\ncommand_backend_url = " + cmd +
		"\nlog_frontend_url = " + log + "\nlog_backend_url = " + log + "\n"
}

// TestDirect: glimpse's shape with no broker, where the client talks to
// the workers directly, is valid, and Direct tells it from a broker's.
func TestDirect(t *testing.T) {
	f, err := Parse("config.ini", []byte("[client]\njob_server_url = a\n"+direct("tcp://client.example:9000", "ipc:///run/glimpse-log")))
	if err != nil {
		t.Fatal(err)
	}
	if !f.Client.Direct() || !f.Client.HasBroker() || f.HasServer() {
		t.Errorf("Direct %v, HasBroker %v, HasServer %v; want true, true, false", f.Client.Direct(), f.Client.HasBroker(), f.HasServer())
	}
	if err := f.Client.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	broker := Client{JobServers: []string{"a:1"}, CommandFrontendURL: "tcp://b:1", CommandBackendURL: "tcp://b:2",
		LogFrontendURL: "tcp://b:3", LogBackendURL: "tcp://b:4"}
	if broker.Direct() || (Client{JobServers: []string{"a:1"}}).Direct() {
		t.Error("Direct is true for a broker's URLs or for none")
	}
	half := broker
	half.LogBackendURL = half.LogFrontendURL
	if e := findError(half.Validate(), "client", "log_backend_url"); e == nil || !strings.Contains(e.Error(), "with no broker each frontend equals its backend") {
		t.Errorf("half-broker Client built in code: %v", half.Validate())
	}
}

func TestSectionValidate(t *testing.T) {
	if err := (Server{}).Validate(); err != nil {
		t.Errorf("empty Server: %v", err)
	}
	s := Server{"tcp://*:1", "tcp://*:2", "tcp://eth0:3", "tcp://[::]:4", ""}
	if err := s.Validate(); err != nil {
		t.Errorf("Server: %v", err)
	}
	s.LogBackendURL = ""
	if findError(s.Validate(), "server", "log_backend_url") == nil {
		t.Error("partial Server passed")
	}

	if err := DefaultWorker().Validate(); err != nil {
		t.Errorf("DefaultWorker: %v", err)
	}
	// A zero Worker has zero durations; the error says which.
	err := Worker{}.Validate()
	if findError(err, "worker", "shutdown_timeout") == nil || findError(err, "worker", "heartbeat_interval") == nil ||
		findError(err, "worker", "subscription_renewal") == nil {
		t.Errorf("zero Worker: %v", err)
	}
	w := DefaultWorker()
	w.LogLevel = slog.Level(2)
	w.Functions = []string{"ok", ""}
	err = w.Validate()
	if findError(err, "worker", "log_level") == nil || findError(err, "worker", "functions") == nil {
		t.Errorf("bad Worker: %v", err)
	}

	if err := DefaultFanout().Validate(); err != nil {
		t.Errorf("DefaultFanout: %v", err)
	}
	fo := DefaultFanout()
	fo.Store = "mysql://db/x"
	if findError(fo.Validate(), "fanout", "store") == nil {
		t.Error("mysql store passed")
	}
}

// A postgres password must not end up in logs through an error message.
func TestStoreErrorHidesPassword(t *testing.T) {
	_, err := Parse("c.ini", []byte("[client]\njob_server_url=a\n[fanout]\nstore = postgres://u:s3cret@h:bad/db\n"))
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("got %v", err)
	}
}

func TestErrorFormat(t *testing.T) {
	inner := errors.New("boom")
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "f.ini", Line: 3, Section: "client", Key: "k", Err: inner}, "f.ini:3: [client] k: boom"},
		{Error{File: "f.ini", Section: "client", Key: "k", Err: inner}, "f.ini: [client] k: boom"},
		{Error{File: "f.ini", Section: "x", Err: inner}, "f.ini: [x]: boom"},
		{Error{File: "f.ini", Err: inner}, "f.ini: boom"},
		{Error{Section: "client", Key: "k", Err: inner}, "[client] k: boom"},
		{Error{Key: "k"}, "k: invalid"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.e, got, tc.want)
		}
	}
	e := &Error{Err: inner}
	if !errors.Is(e, inner) {
		t.Error("Unwrap")
	}
}

func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("../config.ini.example"); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		fullFile,
		"",
		"[client]\njob_server_url = a\n",
		"[client]\njob_server_url = [::1], a:1,,b\n[server]\ncommand_frontend_url=tcp://*:1\n",
		"x=1\n[worker]\nslots=-1\nfunctions=a,a\nlog_level=DEBUG\n[fanout]\nstore=postgres://%zz\n",
		"[client\n",
		"[client]\nk = \"\"\"a\n",
		"[client]\njob_server_url = `a\\\n b`\n",
		"\ufeff[a.b]\n-=1\n%(x)s=%(y)s\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.ini", data)
		if err != nil {
			if file != nil {
				t.Fatal("both a File and an error")
			}
			for _, e := range allErrors(err) {
				if e.File != "fuzz.ini" || e.Line < 0 {
					t.Fatalf("bad *Error %+v", e)
				}
				_ = e.Error()
			}
			return
		}
		// Whatever Parse accepts, Validate must accept too.
		for _, v := range []interface{ Validate() error }{file.Client, file.Server, file.Worker, file.Fanout} {
			if err := v.Validate(); err != nil {
				t.Fatalf("Parse accepted what Validate rejects: %v\n%q", err, data)
			}
		}
	})
}

// TestExampleFileBindsNoWildcard keeps the shipped configuration safe to
// copy: no URL of config.ini.example, nor of README's example, binds every
// interface (*, 0.0.0.0, ::), and README starts gearmand on an explicit
// address.
func TestExampleFileBindsNoWildcard(t *testing.T) {
	f, err := Load("../config.ini.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range append(f.Server.urls(), f.Client.urls()...) {
		if isWildcardURL(u.value) {
			t.Errorf("config.ini.example: %s = %s binds every interface", u.key, u.value)
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"tcp://*:", "tcp://0.0.0.0:", "tcp://[::]:"} {
		if bytes.Contains(readme, []byte(bad)) {
			t.Errorf("README.md shows a wildcard bind %s", bad)
		}
	}
	if !bytes.Contains(readme, []byte("gearmand --listen 127.0.0.1")) {
		t.Error("README.md does not start gearmand with --listen on an explicit address")
	}
}

func isWildcardURL(u string) bool {
	rest, ok := strings.CutPrefix(u, "tcp://")
	if !ok {
		return false
	}
	host := rest
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		host = rest[:i]
	}
	host = strings.Trim(host, "[]")
	return host == "" || host == "*" || host == "0.0.0.0" || host == "::"
}

// TestStateDir: the default store is in a state directory, never the
// working directory, whatever the environment.
func TestStateDir(t *testing.T) {
	home := t.TempDir()
	for _, tc := range []struct{ stateDirectory, xdg, want string }{
		{"/var/lib/glimpse", "/x", "/var/lib/glimpse"},
		{"/var/lib/a:/var/lib/b", "", "/var/lib/a"},
		{"", "/x/state", "/x/state/glimpse"},
		{"relative", "also-relative", filepath.Join(home, ".local/state/glimpse")},
		{"", "", filepath.Join(home, ".local/state/glimpse")},
	} {
		t.Setenv("HOME", home)
		t.Setenv("STATE_DIRECTORY", tc.stateDirectory)
		t.Setenv("XDG_STATE_HOME", tc.xdg)
		got, err := DefaultFanout().StorePath()
		if want := filepath.Join(tc.want, "fanout.db"); err != nil || got != want {
			t.Errorf("STATE_DIRECTORY=%q XDG_STATE_HOME=%q: StorePath() = %q, %v; want %q",
				tc.stateDirectory, tc.xdg, got, err, want)
		}
		if !filepath.IsAbs(got) {
			t.Errorf("default store %q is relative to the working directory", got)
		}
	}
	t.Setenv("HOME", "")
	t.Setenv("STATE_DIRECTORY", "")
	t.Setenv("XDG_STATE_HOME", "")
	if _, err := DefaultFanout().StorePath(); !errors.Is(err, ErrNoStateDir) || findError(err, "fanout", "store") == nil {
		t.Errorf("no HOME: StorePath error = %v, want ErrNoStateDir on [fanout] store", err)
	}
}

// TestMetricsKeys: [worker], [server] and [fanout] take a metrics address;
// a bad one is an error naming the file, section and key; a [server] with
// only metrics binds nothing (the broker still needs its four URLs).
func TestMetricsKeys(t *testing.T) {
	f, err := Parse("m.ini", []byte("[client]\njob_server_url = h:4730\n[worker]\nmetrics = 9464\n[server]\nmetrics = 10.0.0.5:9465\n[fanout]\nmetrics = :9466\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Worker.Metrics != "9464" || f.Server.Metrics != "10.0.0.5:9465" || f.Fanout.Metrics != ":9466" {
		t.Errorf("metrics: worker %q, server %q, fanout %q", f.Worker.Metrics, f.Server.Metrics, f.Fanout.Metrics)
	}
	if f.HasServer() {
		t.Error("a [server] with only metrics HasServer")
	}
	for _, sec := range []string{"worker", "server", "fanout"} {
		_, err := Parse("m.ini", []byte("[client]\njob_server_url = h:4730\n["+sec+"]\nmetrics = 99999\n"))
		var ce *Error
		if !errors.As(err, &ce) || ce.Section != sec || ce.Key != "metrics" || !strings.Contains(err.Error(), "m.ini") {
			t.Errorf("[%s] metrics = 99999: %v, want an error naming m.ini [%s] metrics", sec, err, sec)
		}
	}
}

// TestDirectDataKeys: direct_data turns the direct path off,
// direct_data_address takes a host or host:port, and bad values are
// errors naming the key.
func TestDirectDataKeys(t *testing.T) {
	const client = "[client]\njob_server_url = h:4730\n"
	f, err := Parse("d.ini", []byte(client+"direct_data = false\ndirect_data_address = 10.0.0.7:7000\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !f.Client.NoDirectData || f.Client.DirectDataAddress != "10.0.0.7:7000" {
		t.Errorf("direct_data = false, direct_data_address = 10.0.0.7:7000: got %v, %q", f.Client.NoDirectData, f.Client.DirectDataAddress)
	}
	if f, err := Parse("d.ini", []byte(client+"direct_data_address = client.example.com\n")); err != nil || f.Client.NoDirectData {
		t.Errorf("a host alone: %v (direct off: %v)", err, f.Client.NoDirectData)
	}
	for _, tc := range []struct{ in, key string }{
		{"direct_data = maybe\n", "direct_data"},
		{"direct_data_address = h:99999\n", "direct_data_address"},
		{"direct_data_address = a b\n", "direct_data_address"},
	} {
		_, err := Parse("d.ini", []byte(client+tc.in))
		var ce *Error
		if !errors.As(err, &ce) || ce.Section != "client" || ce.Key != tc.key {
			t.Errorf("%q: %v, want an error naming [client] %s", tc.in, err, tc.key)
		}
	}
	if err := (Client{JobServers: []string{"h:4730"}, DirectDataAddress: "h:x"}).Validate(); err == nil {
		t.Error("Validate took direct_data_address h:x")
	}
}
