package gearmand_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"strings"

	"github.com/glimpse-go/glimpse/internal/gearmand"
)

func Example() {
	// Start a gearmand on a free loopback port; Start returns once it answers.
	srv, err := gearmand.Start(context.Background(), gearmand.Options{
		Args: []string{"--threads=1"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()

	// Talk to it with the admin text protocol.
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "version\n")
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		log.Printf("gearmand log:\n%s", srv.LogTail(20))
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(line, "OK "))

	if err := srv.Stop(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(srv.Pid() == 0)
	// The log is kept after Stop for post-mortems; this demo does not need it.
	os.Remove(srv.Log())
	// Output:
	// true
	// true
}
