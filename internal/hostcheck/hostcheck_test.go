package hostcheck_test

import (
	"fmt"
	"testing"

	"github.com/glimpse-go/glimpse/internal/hostcheck"
)

func TestAllowed(t *testing.T) {
	for hdr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.0.0.1": true, "[::1]:80": true, "::1": true, "localhost:9": true, "LOCALHOST": true,
		"evil.example:8080": false, "evil.example": false, "localhost.evil.example": false, "": false,
	} {
		if _, ok := hostcheck.Allowed(hdr); ok != want {
			t.Errorf("Allowed(%q) = %v, want %v", hdr, ok, want)
		}
	}
}

func ExampleAllowed() {
	fmt.Println(hostcheck.Allowed("127.0.0.1:8080"))
	fmt.Println(hostcheck.Allowed("attacker.example:8080"))
	// Output:
	// 127.0.0.1 true
	// attacker.example false
}
