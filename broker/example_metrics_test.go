package broker_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/config"
)

// The broker's traffic as Prometheus metrics: here the log channel's
// messages from publishers to subscribers.
func ExampleBroker_Collector() {
	b, stop := serveBroker()
	defer stop()
	pub, sub := pair(b, "log.")
	defer pub.Close()
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 3 {
		if err := pub.Send("log.w1", []byte("hello")); err != nil {
			log.Fatal(err)
		}
		if _, _, err := sub.Recv(ctx); err != nil {
			log.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(b.Collector())
	families, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.Metric {
			labels := map[string]string{}
			for _, l := range m.Label {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["channel"] == "log" && labels["direction"] == "down" {
				fmt.Println(f.GetName(), m.GetCounter().GetValue())
			}
		}
	}
	// Output:
	// glimpse_broker_bytes_total 33
	// glimpse_broker_messages_total 3
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
