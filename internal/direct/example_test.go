package direct_test

import (
	"context"
	"fmt"
	"log"

	"github.com/glimpse-go/glimpse/internal/direct"
)

func Example() {
	// The client: serve a payload (in parts, sent from where they are)
	// and put its reference in the job.
	srv, err := direct.Listen(direct.ServerConfig{Listen: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	offer, err := srv.Offer([][]byte{[]byte("large "), []byte("items")})
	if err != nil {
		log.Fatal(err)
	}
	defer offer.Drop()
	job := offer.Ref().Encode()

	// The worker: fetch, run, send the result back; answer the job.
	answer, err := direct.Serve(context.Background(), job, 1<<20, func(payload []byte) ([][]byte, error) {
		return [][]byte{[]byte("ran: "), payload}, nil
	})
	if err != nil {
		log.Fatal(err)
	}

	// The client again: the job's answer says where the result is.
	if a, ok := direct.ParseAnswer(answer[0]); ok && a.Sent {
		result, _ := offer.Result()
		fmt.Printf("%s (%d fetch)\n", result, offer.Fetches())
	}
	// Output: ran: large items (1 fetch)
}

func ExampleParseAnswer() {
	a, ok := direct.ParseAnswer(direct.Failed(direct.ReasonGone))
	fmt.Println(ok, a.Sent, a.Reason)
	_, ok = direct.ParseAnswer([]byte{2, 0x91, 1}) // an ordinary result
	fmt.Println(ok)
	// Output:
	// true false token unknown
	// false
}
