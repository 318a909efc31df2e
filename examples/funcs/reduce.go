package funcs

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/glimpse-go/glimpse/pool"
)

// SumSquares is the sum of x*x folded on the workers: each chunk sends
// back one int64 (the throughput bar of reduces, bench/reducebench).
var SumSquares = pool.RegisterReducer("examples.sumsquares",
	func(_ context.Context, x int64) (int64, error) { return x * x, nil },
	func(acc, sq int64) int64 { return acc + sq },
	func(a, b int64) int64 { return a + b })

// WordCounts counts the words of texts with a keyed reduce: each worker
// counts its chunk's words into one table (map-side combine) and sends
// that; the client adds the tables up.
var WordCounts = pool.RegisterKeyed("examples.wordcounts",
	func(_ context.Context, text string, emit func(string, int)) error {
		forEachWord(text, func(w string) { emit(w, 1) })
		return nil
	},
	func(a, b int) int { return a + b })

// forEachWord calls fn on each word of text, lower-cased: the runs of
// letters and apostrophes of the lower-cased text. The text is lowered
// once, and each word is a substring of it, so counting a word that is
// already in a table allocates nothing.
func forEachWord(text string, fn func(word string)) {
	text = strings.ToLower(text)
	start := -1
	for i := 0; i < len(text); {
		c, size := text[i], 1
		in := c >= 'a' && c <= 'z' || c == '\''
		if c >= utf8.RuneSelf {
			var r rune
			r, size = utf8.DecodeRuneInString(text[i:])
			in = unicode.IsLetter(r)
		}
		switch {
		case in && start < 0:
			start = i
		case !in && start >= 0:
			fn(text[start:i])
			start = -1
		}
		i += size
	}
	if start >= 0 {
		fn(text[start:])
	}
}
