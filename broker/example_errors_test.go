package broker_test

import (
	"errors"
	"fmt"
	"log"
	"net"

	"github.com/glimpse-go/glimpse/broker"
)

// The message names the key and the URL, for the operator to fix.
func ExampleBindError_Error() {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer held.Close()
	url := "tcp://" + held.Addr().String()
	_, err = broker.BindPublisher(url)
	var be *broker.BindError
	if errors.As(err, &be) {
		fmt.Println(be.URL == url, be.Key == "") // no config key: a Publisher's own URL
	}
	fmt.Println(&broker.BindError{Key: "log_backend_url", URL: "tcp://*:9003", Err: errors.New("Address already in use")})
	// Output:
	// true true
	// bind log_backend_url tcp://*:9003: Address already in use
}

// Is lets a program choose another port when the one it wanted is taken.
func ExampleBindError_Is() {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer held.Close()
	_, err = broker.BindSubscriber("tcp://" + held.Addr().String())
	if errors.Is(err, broker.ErrAddrInUse) {
		fmt.Println("port taken: bind another")
	}
	// Output: port taken: bind another
}

// Unwrap gives ZeroMQ's own error.
func ExampleBindError_Unwrap() {
	_, err := broker.BindPublisher("tcp://no-such-interface-xyz:9000")
	var be *broker.BindError
	fmt.Println(errors.As(err, &be), errors.Unwrap(be) != nil)
	// Output: true true
}

// A *ChannelError says which of the broker's two channels failed; Serve
// and New return one.
func ExampleChannelError_Error() {
	err := &broker.ChannelError{Channel: "log", Err: errors.New("context was terminated")}
	fmt.Println(err)
	// Output: log channel: context was terminated
}

func ExampleChannelError_Unwrap() {
	cause := errors.New("context was terminated")
	var err error = &broker.ChannelError{Channel: "command", Err: cause}
	var ce *broker.ChannelError
	fmt.Println(errors.As(err, &ce), ce.Channel, errors.Is(err, cause))
	// Output: true command true
}
