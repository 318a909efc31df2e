package broker_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/config"
)

func ExampleBroker_HighWaterMark() {
	b, stop := serveBroker(broker.WithHWM(1000))
	defer stop()
	fmt.Println(b.HighWaterMark())
	// Output: 1000
}

// A client of a cluster without a broker binds the URLs it is given.
func ExampleClientBindURL() {
	fmt.Println(broker.ClientBindURL("tcp://localhost:9003"))
	fmt.Println(broker.ClientBindURL("tcp://10.0.0.5:9003"))
	fmt.Println(broker.ClientBindURL("tcp://client.example.com:9003"))
	// Output:
	// tcp://127.0.0.1:9003
	// tcp://10.0.0.5:9003
	// tcp://*:9003
}

func ExampleClientBindError() {
	err := broker.ClientBindError("log", "tcp://127.0.0.1:9003", fmt.Errorf("bind: %w", broker.ErrAddrInUse))
	fmt.Println(errors.Is(err, broker.ErrAddrInUse))
	fmt.Println(err)
	// Output:
	// true
	// address in use: another client holds the log channel at tcp://127.0.0.1:9003: with no broker one client at a time (logs, ping/quit/restart/stats -via zmq) binds the channels
}

// A client subscribes to the workers' log records at the broker its
// config names.
func ExamplePeers_LogSubscriber() {
	b, stop := serveBroker()
	defer stop()
	a := b.Addrs()
	cfg := config.Client{JobServers: []string{"127.0.0.1:4730"},
		CommandFrontendURL: a.CommandFrontendURL, CommandBackendURL: a.CommandBackendURL,
		LogFrontendURL: a.LogFrontendURL, LogBackendURL: a.LogBackendURL}
	peers, err := broker.ClientPeers(cfg) // no key_file: no key
	if err != nil {
		log.Fatal(err)
	}
	sub, err := peers.LogSubscriber(cfg, "log.")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	fmt.Println(peers.Key == nil, sub.URL() == a.LogBackendURL)
	// Output: true true
}
