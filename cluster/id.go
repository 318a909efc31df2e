package cluster

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/glimpse-go/glimpse/internal/ids"
)

// newWorkerID makes "host-pid-random": readable in logs and listings,
// unique even for two processes that reuse a pid on one host. The host
// part keeps only characters that are safe in a client id and a shell.
func newWorkerID(host string, pid int) string {
	var b strings.Builder
	for _, r := range host {
		switch {
		case b.Len() >= 64:
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_'):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		b.WriteString("localhost")
	}
	return fmt.Sprintf("%s-%d-%s", b.String(), pid, ids.New(4))
}
