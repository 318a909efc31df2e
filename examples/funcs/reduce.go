package funcs

import (
	"context"
	"sync"
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
// letters and apostrophes of the lower-cased text. One pass over the text
// copies its words, lowered, end to end into a buffer (a table says what
// each ASCII byte is); the words handed to fn are substrings of one
// string made of that buffer, so counting a word already in a table
// allocates nothing. (Lowering the whole text first, then scanning it,
// read every byte three times: a third of a worker's word count.)
func forEachWord(text string, fn func(word string)) {
	w := wordBuffers.Get().(*loweredWords)
	defer wordBuffers.Put(w)
	w.lower(text)
	words := string(w.buf)
	start := 0
	for _, end := range w.ends {
		fn(words[start:end])
		start = end
	}
}

// loweredWords are the words of a text, lower-cased, end to end in buf;
// ends holds where each ends.
type loweredWords struct {
	buf  []byte
	ends []int
}

var wordBuffers = sync.Pool{New: func() any { return new(loweredWords) }}

// asciiWordByte is, for each ASCII byte, the byte it is in a lower-cased
// word, or 0 for a byte that is not in a word.
var asciiWordByte = func() (t [utf8.RuneSelf]byte) {
	for c := byte('a'); c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = c, c
	}
	t['\''] = '\''
	return t
}()

// lower fills w with text's words, lower-cased. Lowering an ASCII byte
// keeps its size, so buf, as long as text, has room for every word but
// those with other letters, which may lower to more bytes.
func (w *loweredWords) lower(text string) {
	buf, ends := w.buf[:cap(w.buf)], w.ends[:0]
	if len(buf) < len(text) {
		buf = make([]byte, len(text))
	}
	n, in := 0, false
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			i++
			if lc := asciiWordByte[c]; lc != 0 {
				buf[n] = lc
				n, in = n+1, true
				continue
			}
		} else {
			r, size := utf8.DecodeRuneInString(text[i:])
			i += size
			if unicode.IsLetter(r) {
				buf = append(buf[:n], string(unicode.ToLower(r))...)
				n, in = len(buf), true
				buf = buf[:cap(buf)]
				continue
			}
		}
		if in {
			ends, in = append(ends, n), false
		}
	}
	if in {
		ends = append(ends, n)
	}
	w.buf, w.ends = buf[:n], ends
}
