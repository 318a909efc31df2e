package config_test

import (
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/glimpse-go/glimpse/config"
)

// writeConfig writes text to config.ini in a fresh temporary directory and
// returns its path and a function that removes the directory.
func writeConfig(text string) (path string, cleanup func()) {
	dir, err := os.MkdirTemp("", "config-example")
	if err != nil {
		log.Fatal(err)
	}
	path = filepath.Join(dir, "config.ini")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		log.Fatal(err)
	}
	return path, func() { os.RemoveAll(dir) }
}

func ExampleLoad() {
	path, cleanup := writeConfig(`[client]
job_server_url = gearman1, gearman2:4731
[worker]
slots = 8
`)
	defer cleanup()

	f, err := config.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Client.JobServers, f.Worker.Slots)

	// A missing file is an error that wraps fs.ErrNotExist.
	_, err = config.Load(filepath.Join(filepath.Dir(path), "missing.ini"))
	fmt.Println(errors.Is(err, fs.ErrNotExist))
	// Output:
	// [gearman1:4730 gearman2:4731] 8
	// true
}

func ExampleParse() {
	// Parse reads a file's text from anywhere: an embedded default, a
	// secret store. The name only appears in errors and as File.Path.
	f, err := config.Parse("embedded.ini", []byte(`[client]
job_server_url = localhost
[fanout]
copy_timeout = 10s
`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Path, f.Client.JobServers, f.Fanout.CopyTimeout, f.Fanout.PruneAfter)

	_, err = config.Parse("embedded.ini", []byte("[client]\njob_server_url = localhost\nslots = 4\n"))
	fmt.Println(err)
	// Output:
	// embedded.ini [localhost:4730] 10s 1m0s
	// embedded.ini:3: [client] slots: unknown key in [client]; slots belongs in [worker]
}

func ExampleFromEnv() {
	path, cleanup := writeConfig("[client]\njob_server_url = gearman1\n")
	defer cleanup()

	os.Unsetenv(config.EnvVar)
	_, err := config.FromEnv()
	fmt.Println(errors.Is(err, config.ErrNoConfig)) // fall back to a local cluster

	os.Setenv(config.EnvVar, path)
	defer os.Unsetenv(config.EnvVar)
	f, err := config.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Client.JobServers)
	// Output:
	// true
	// [gearman1:4730]
}

func ExampleLoadOrEnv() {
	flagPath, cleanup := writeConfig("[client]\njob_server_url = from-flag\n")
	defer cleanup()
	envPath, cleanupEnv := writeConfig("[client]\njob_server_url = from-env\n")
	defer cleanupEnv()
	os.Setenv(config.EnvVar, envPath)
	defer os.Unsetenv(config.EnvVar)

	// The -c flag wins; with no flag the environment variable names the file.
	for _, c := range []string{flagPath, ""} {
		f, err := config.LoadOrEnv(c)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(f.Client.JobServers)
	}

	os.Unsetenv(config.EnvVar)
	_, err := config.LoadOrEnv("")
	fmt.Println(err)
	// Output:
	// [from-flag:4730]
	// [from-env:4730]
	// no config file: pass -c FILE or set GLIMPSE_CLUSTER_CONFIG
}

func ExampleValidFunctionName() {
	for _, name := range []string{"imaging.resize", "ns:square_2", "has space", "", "café"} {
		fmt.Printf("%q %v\n", name, config.ValidFunctionName(name))
	}
	// Output:
	// "imaging.resize" true
	// "ns:square_2" true
	// "has space" false
	// "" false
	// "café" false
}

func ExampleDefaultWorker() {
	// A local cluster, or a program that builds its worker section in code,
	// starts from the defaults and changes what it needs.
	w := config.DefaultWorker()
	fmt.Println(w.Slots, w.ShutdownTimeout, w.HeartbeatInterval, w.LogLevel)
	w.Functions = []string{"doc.cube"}
	w.ShutdownTimeout = 30 * time.Second
	fmt.Println(w.Validate())
	// Output:
	// 0 5m0s 5s INFO
	// <nil>
}

func ExampleWorker_Validate() {
	// A zero Worker has zero durations, which are not valid: start from
	// DefaultWorker.
	var w config.Worker
	fmt.Println(w.Validate() != nil)

	w = config.DefaultWorker()
	w.Functions = []string{"bad name"}
	fmt.Println(w.Validate())
	// Output:
	// true
	// [worker] functions: "bad name": not a function name (1-200 of letters, digits, '.', '_', '-', ':')
}

func ExampleDefaultFanout() {
	f := config.DefaultFanout()
	fmt.Printf("%q %v %v\n", f.Store, f.CopyTimeout, f.PruneAfter) // "": fanout.db in the state directory
	f.Store = "postgres://fanout@db/glimpse"
	fmt.Println(f.Validate())
	// Output:
	// "" 30s 1m0s
	// <nil>
}

func ExampleFanout_Validate() {
	f := config.DefaultFanout()
	f.PruneAfter = -time.Minute
	fmt.Println(f.Validate())
	// Output:
	// [fanout] prune_after: -1m0s: must be positive
}

func ExampleClient() {
	// A program that is not given a file builds its Client in code and
	// checks it with the same rules as Load.
	c := config.Client{JobServers: []string{"gearman1:4730", "gearman2:4730"}}
	fmt.Println(c.Validate(), c.HasBroker())

	c.CommandFrontendURL = "tcp://broker:9000"
	c.CommandBackendURL = "tcp://broker:9001"
	c.LogFrontendURL = "tcp://broker:9002"
	c.LogBackendURL = "tcp://broker:9003"
	fmt.Println(c.Validate(), c.HasBroker(), c.Direct())
	// Output:
	// <nil> false
	// <nil> true false
}

func ExampleClient_Validate() {
	c := config.Client{JobServers: []string{"gearman1"}} // code must give the port
	fmt.Println(c.Validate())
	c = config.Client{}
	fmt.Println(c.Validate())
	// Output:
	// [client] job_server_url: "gearman1": want host:port
	// [client] job_server_url: missing: name at least one Gearman job server, host:port[,host2:port]
}

func ExampleClient_HasBroker() {
	// Maps run with or without a broker; commands (quit, restart, cancel)
	// and worker logs need one, or the direct shape.
	f, err := config.Parse("config.ini", []byte("[client]\njob_server_url = gearman1\n"))
	if err != nil {
		log.Fatal(err)
	}
	if !f.Client.HasBroker() {
		fmt.Println("no command channel: broadcast commands are unavailable")
	}
	// Output: no command channel: broadcast commands are unavailable
}

func ExampleServer() {
	// The broker's machine has a [server] section with its bind URLs.
	f, err := config.Parse("config.ini", []byte(`[client]
job_server_url = gearman1
command_frontend_url = tcp://broker:9000
command_backend_url  = tcp://broker:9001
log_frontend_url     = tcp://broker:9002
log_backend_url      = tcp://broker:9003
[server]
command_frontend_url = tcp://*:9000
command_backend_url  = tcp://*:9001
log_frontend_url     = tcp://*:9002
log_backend_url      = tcp://*:9003
`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.HasServer(), f.Server.IsZero(), f.Server.CommandFrontendURL)
	// Output: true false tcp://*:9000
}

func ExampleFile_HasServer() {
	// Only the broker needs [server]; it refuses to start without it.
	f, err := config.Parse("config.ini", []byte("[client]\njob_server_url = gearman1\n"))
	if err != nil {
		log.Fatal(err)
	}
	if !f.HasServer() {
		fmt.Println("broker: config.ini has no [server] section")
	}
	// Output: broker: config.ini has no [server] section
}

func ExampleServer_IsZero() {
	var s config.Server
	fmt.Println(s.IsZero())
	s.CommandFrontendURL = "tcp://*:9000"
	fmt.Println(s.IsZero())
	// Output:
	// true
	// false
}

func ExampleServer_Validate() {
	s := config.Server{
		CommandFrontendURL: "tcp://*:9000",
		CommandBackendURL:  "tcp://*:9001",
		LogFrontendURL:     "tcp://*:9002",
		LogBackendURL:      "tcp://*:9003",
	}
	fmt.Println(s.Validate())
	s.LogBackendURL = ""
	fmt.Println(s.Validate())
	// Output:
	// <nil>
	// [server] log_backend_url: missing: command_frontend_url is set, and the four broker URLs go together (all or none)
}

func ExampleError_Unwrap() {
	_, err := config.Load("/nonexistent/config.ini")
	var e *config.Error
	fmt.Println(errors.As(err, &e), e.File, errors.Is(err, fs.ErrNotExist))
	// Output: true /nonexistent/config.ini true
}

func ExampleError_Error() {
	// The parts that are unknown are left out: a Client built in code has
	// no file or line.
	fmt.Println(&config.Error{File: "config.ini", Line: 7, Section: "worker", Key: "slots", Err: errors.New(`"-1": must be 0 or more`)})
	fmt.Println(&config.Error{Section: "client", Key: "job_server_url", Err: errors.New("missing")})
	// Output:
	// config.ini:7: [worker] slots: "-1": must be 0 or more
	// [client] job_server_url: missing
}
