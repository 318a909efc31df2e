package auth_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/glimpse-go/glimpse/internal/auth"
)

func ExampleKey_SealJSON() {
	key, _ := auth.GenerateKey()
	sealed, _ := key.SealJSON(auth.PurposeCommand, []byte(`{"name":"ping"}`))
	body, err := key.OpenJSON(auth.PurposeCommand, sealed)
	fmt.Println(string(body), err)

	_, err = key.OpenJSON(auth.PurposeCommand, []byte(`{"name":"quit"}`))
	fmt.Println(errors.Is(err, auth.ErrUnsigned), err)
	// Output:
	// {"name":"ping"} <nil>
	// true auth: command refused: not signed
}

func ExampleKey_Seal() {
	key, _ := auth.GenerateKey()
	frame := key.Seal(auth.PurposeChunk, []byte("items"), []byte("glimpse.square"), []byte("map-0"))
	_, err := key.Open(auth.PurposeChunk, frame, []byte("glimpse.square"), []byte("map-1"))
	fmt.Println(errors.Is(err, auth.ErrForged))
	// Output: true
}

func ExampleReplayGuard() {
	var g auth.ReplayGuard
	now := time.Now()
	fmt.Println(g.Admit("cmd-1", now, now.Add(time.Minute), now))
	fmt.Println(errors.Is(g.Admit("cmd-1", now, now.Add(time.Minute), now), auth.ErrReplayed))
	// Output:
	// <nil>
	// true
}
