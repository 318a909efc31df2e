package broker_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/glimpse-go/glimpse/broker"
	"github.com/glimpse-go/glimpse/config"
)

// A broker on free loopback ports, a worker publishing a log record and a
// client receiving it.
func Example() {
	b, err := broker.New(config.Server{
		CommandFrontendURL: "tcp://127.0.0.1:*",
		CommandBackendURL:  "tcp://127.0.0.1:*",
		LogFrontendURL:     "tcp://127.0.0.1:*",
		LogBackendURL:      "tcp://127.0.0.1:*",
	})
	if err != nil {
		log.Fatal(err)
	}
	go b.Serve()
	defer b.Close()
	addrs := b.Addrs() // bound on 127.0.0.1, so also the URLs to connect to

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := broker.NewSubscriber(addrs.LogBackendURL, "log.")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	worker, err := broker.NewPublisher(addrs.LogFrontendURL)
	if err != nil {
		log.Fatal(err)
	}
	defer worker.Close()

	// Without this wait the record would most likely be dropped: the
	// client's subscription has not reached the worker yet.
	if err := worker.WaitSubscribed(ctx, "log.w1"); err != nil {
		log.Fatal(err)
	}
	if err := worker.Send("log.w1", []byte("info"), []byte("worker started")); err != nil {
		log.Fatal(err)
	}
	topic, parts, err := client.Recv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %s: %s\n", topic, parts[0], parts[1])
	// Output: log.w1 info: worker started
}
