package ids

import (
	"regexp"
	"testing"
)

func TestNew(t *testing.T) {
	hexRE := regexp.MustCompile(`^[0-9a-f]*$`)
	seen := map[string]bool{}
	for _, n := range []int{0, 2, 3, 4, 8} {
		for range 100 {
			id := New(n)
			if len(id) != 2*n || !hexRE.MatchString(id) {
				t.Fatalf("New(%d) = %q, want %d hex digits", n, id, 2*n)
			}
			if n == 8 && seen[id] {
				t.Fatalf("New(8) gave %q twice", id)
			}
			seen[id] = true
		}
	}
}
