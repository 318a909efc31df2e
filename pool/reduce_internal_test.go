package pool

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// Accumulators that come in any order are merged in input order, and the
// client holds one per run of adjacent chunks: never more than the chunks
// still missing, plus one.
func TestAccRunsMergeInInputOrder(t *testing.T) {
	const chunks, per = 200, 3
	concat := func(a, b string, _ int) (string, error) { return a + b, nil }
	for seed := range uint64(20) {
		rs := &accRuns[string]{merge: concat, byStart: map[int]*accRun[string]{}, byEnd: map[int]*accRun[string]{}}
		order := rand.New(rand.NewPCG(seed, 1)).Perm(chunks)
		want := ""
		for c := range chunks {
			want += strconv.Itoa(c) + ","
		}
		for i, c := range order {
			if err := rs.add(c*per, c*per+per, strconv.Itoa(c)+","); err != nil {
				t.Fatal(err)
			}
			if missing := chunks - i - 1; len(rs.byStart) > missing+1 {
				t.Fatalf("seed %d: %d runs held with %d chunks missing", seed, len(rs.byStart), missing)
			}
		}
		got, err := rs.result()
		if err != nil || got != want {
			t.Fatalf("seed %d: %q, %v; want %q", seed, got, err, want)
		}
	}
}
