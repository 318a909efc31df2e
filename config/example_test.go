package config_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/certs"
)

func Example() {
	// Programs call config.LoadOrEnv(*flagC); Parse reads the same text.
	f, err := config.Parse("config.ini", []byte(`
[client]
job_server_url = gearman1:4730, gearman2   ; the port defaults to 4730
command_frontend_url = tcp://broker:9000
command_backend_url  = tcp://broker:9001
log_frontend_url     = tcp://broker:9002
log_backend_url      = tcp://broker:9003

[worker]
slots = 4
functions = imaging.resize, square
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Client.JobServers)
	fmt.Println(f.Client.HasBroker(), f.HasServer())
	fmt.Println(f.Worker.Slots, f.Worker.Functions, f.Worker.ShutdownTimeout, f.Worker.LogLevel)
	fmt.Printf("%q\n", f.Fanout.Store)
	// Output:
	// [gearman1:4730 gearman2:4730]
	// true false
	// 4 [imaging.resize square] 5m0s INFO
	// ""
}

func ExampleError() {
	_, err := config.Parse("config.ini", []byte(`[client]
job_server_url = host:notaport
[worker]
heartbeat_interval = 5
`))
	// Every problem is reported, each an *Error.
	fmt.Println(err)
	var e *config.Error
	if errors.As(err, &e) {
		fmt.Printf("first: line %d, [%s] %s\n", e.Line, e.Section, e.Key)
	}
	// Output:
	// config.ini:2: [client] job_server_url: "host:notaport": port "notaport" is not 1-65535
	// config.ini:4: [worker] heartbeat_interval: "5": not a duration (write e.g. 30s, 5m, 1h30m)
	// first: line 2, [client] job_server_url
}

// glimpse's shape with no broker: each frontend equals its backend, so the
// client binds them and the workers connect to it. Only one pair equal is
// an error.
func ExampleClient_Direct() {
	f, err := config.Parse("config.ini", []byte(`[client]
job_server_url = gearman1
command_frontend_url = tcp://client.example.com:9000
command_backend_url  = tcp://client.example.com:9000
log_frontend_url     = tcp://client.example.com:9001
log_backend_url      = tcp://client.example.com:9001
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Client.Direct())
	half := f.Client
	half.LogBackendURL = "tcp://client.example.com:9002"
	fmt.Println(half.Validate())
	// Output:
	// true
	// [client] command_backend_url: same URL as command_frontend_url, but log_frontend_url and log_backend_url differ: with a broker the four URLs differ; with no broker each frontend equals its backend (the client binds them, workers connect)
}

// The state directory follows systemd's StateDirectory= first, then the
// XDG base directories; the fanout store defaults to a file in it.
func ExampleStateDir() {
	defer os.Setenv("STATE_DIRECTORY", os.Getenv("STATE_DIRECTORY"))
	os.Setenv("STATE_DIRECTORY", "/var/lib/glimpse")
	dir, err := config.StateDir()
	fmt.Println(dir, err)
	// Output:
	// /var/lib/glimpse <nil>
}

func ExampleFanout_StorePath() {
	defer os.Setenv("XDG_STATE_HOME", os.Getenv("XDG_STATE_HOME"))
	defer os.Setenv("STATE_DIRECTORY", os.Getenv("STATE_DIRECTORY"))
	os.Unsetenv("STATE_DIRECTORY")
	os.Setenv("XDG_STATE_HOME", "/home/ann/.local/state")
	f := config.DefaultFanout()
	fmt.Println(f.StorePath())
	f.Store = "/srv/glimpse/subscribers.db" // given: used as is
	fmt.Println(f.StorePath())
	// Output:
	// /home/ann/.local/state/glimpse/fanout.db <nil>
	// /srv/glimpse/subscribers.db <nil>
}

// TLS to the job servers: the tls keys name the CA that signs the TLS
// proxies' certificates; TLSConfig reads it. pool.New and the workers do
// this themselves; a program using package gearman passes the result to
// gearman.WithTLS.
func ExampleClient_TLSConfig() {
	dir, err := os.MkdirTemp("", "example-tls")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ca, err := certs.NewCA("example CA") // your cluster's CA; a throwaway one here
	if err != nil {
		fmt.Println(err)
		return
	}
	caFile, err := ca.WriteCA(dir, "ca.pem")
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := config.Parse("config.ini", []byte(`[client]
job_server_url = gear1:4731
tls = true
tls_ca_file = `+caFile+"\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	conf, err := f.Client.TLSConfig()
	fmt.Println(conf != nil, conf.RootCAs != nil, conf.ServerName == "", err)

	// With tls off (the default) there is nothing to configure.
	conf, err = config.Client{JobServers: []string{"gear1:4730"}}.TLSConfig()
	fmt.Println(conf == nil, err)

	_, err = config.Parse("config.ini", []byte("[client]\njob_server_url = gear1:4731\ntls = true\ntls_ca_file = /no/ca.pem\n"))
	fmt.Println(err)
	// Output:
	// true true true <nil>
	// true <nil>
	// config.ini:4: [client] tls_ca_file: "/no/ca.pem": cannot read: no such file or directory
}

func ExampleCheckMetricsAddr() {
	for _, addr := range []string{"9464", ":9464", "10.0.0.5:9464", "9464x", "host:http"} {
		fmt.Println(addr, config.CheckMetricsAddr(addr))
	}
	// Output:
	// 9464 <nil>
	// :9464 <nil>
	// 10.0.0.5:9464 <nil>
	// 9464x "9464x": want [HOST]:PORT or PORT, PORT 0-65535
	// host:http "host:http": want [HOST]:PORT or PORT, PORT 0-65535
}
