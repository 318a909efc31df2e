package funcs

import (
	"context"
	"math/bits"
	"unicode"
	"unicode/utf8"
	"unsafe"

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
// letters and apostrophes of the lower-cased text, in order, in one pass
// (a table says what each ASCII byte is). A word already lower case (most
// are) is handed to fn as a substring of text; the others are lowered
// end to end into a buffer of this call's own, and handed to fn as
// substrings of it: counting a word already in a table allocates
// nothing. (Copying every word lowered was a fifth of a worker's word
// count; collecting the words' places first, then calling fn on each,
// was another tenth of it.)
func forEachWord(text string, fn func(word string)) {
	var low loweredWords
	for i := skipNotInWord(text, 0); i < len(text); i = skipNotInWord(text, i) {
		start := i
		i = skipLower(text, i)
		if i == len(text) || asciiKind[text[i]] == notInWord {
			fn(text[start:i])
			continue
		}
		from := low.start(len(text))
		low.buf = append(low.buf, text[start:i]...)
		i = low.lowerRest(text, i)
		if len(low.buf) > from {
			fn(low.word(from))
		}
	}
}

// loweredWords holds a text's words that lowering changes, end to end. It
// is only appended to, and never reused for another text, so the words
// handed out as strings over it never change (a grown buffer leaves the
// old one to the words already in it).
type loweredWords struct {
	buf []byte
}

// start makes the buffer, for a text of n bytes, on its first word, and
// returns where the next word goes.
func (l *loweredWords) start(n int) int {
	if l.buf == nil {
		l.buf = make([]byte, 0, max(n/4, 64))
	}
	return len(l.buf)
}

// word is the word at buf[from:], as a string over buf.
func (l *loweredWords) word(from int) string {
	return unsafe.String(&l.buf[from], len(l.buf)-from)
}

// The kinds of byte of asciiKind.
const (
	notInWord = iota
	lowerInWord
	upperInWord
	nonASCII
)

// asciiKind is, for each byte, whether it is in a word, and whether
// lowering it changes it; a byte of a multi-byte rune is nonASCII.
var asciiKind = func() (t [256]byte) {
	for c := byte('a'); c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = lowerInWord, upperInWord
	}
	t['\''] = lowerInWord
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] = nonASCII
	}
	return t
}()

// skipNotInWord returns where the first byte from i that is in a word
// (or may be: any non-ASCII byte) is, or len(text).
func skipNotInWord(text string, i int) int {
	for ; i+8 <= len(text); i += 8 {
		if m := wordBytes(load8(text[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(text) && asciiKind[text[i]] == notInWord {
		i++
	}
	return i
}

// skipLower returns where the first byte from i that is not a lower-case
// letter or an apostrophe is, or len(text).
func skipLower(text string, i int) int {
	for ; i+8 <= len(text); i += 8 {
		if m := ^lowerBytes(load8(text[i:])) & highBits; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(text) && asciiKind[text[i]] == lowerInWord {
		i++
	}
	return i
}

// load8 is s's first 8 bytes, the first the lowest.
func load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// Bytes of 8 bytes in a uint64, for wordBytes and lowerBytes.
const (
	eachByte = 0x0101010101010101
	highBits = 0x80 * eachByte
	lowBits  = 0x7f * eachByte
)

// lowerBytes has the high bit of each byte of x that is 'a'-'z' or an
// apostrophe set, the others 0. The sums cannot carry into the next
// byte: each byte is at most 0x7f before adding at most 0x7f.
func lowerBytes(x uint64) uint64 {
	x7 := x & lowBits
	notApostrophe := (x7 ^ '\''*eachByte) + lowBits
	return (inLowerRange(x7) | ^notApostrophe) & highBits &^ x
}

// wordBytes has the high bit of each byte of x that is a letter, an
// apostrophe or non-ASCII set, the others 0 (or-ing 0x20 lowers A-Z
// and takes no other byte into a-z).
func wordBytes(x uint64) uint64 {
	x7 := x & lowBits
	notApostrophe := (x7 ^ '\''*eachByte) + lowBits
	return (inLowerRange(x7|0x20*eachByte)|^notApostrophe)&highBits&^x | x&highBits
}

// inLowerRange has the high bit of each byte of x7 (bytes < 0x80) that
// is 'a'-'z' set.
func inLowerRange(x7 uint64) uint64 {
	atLeastA := x7 + (0x80-'a')*eachByte
	pastZ := x7 + (0x80-'z'-1)*eachByte
	return atLeastA &^ pastZ
}

// lowerRest appends to buf the rest of a word of text from i, lowered,
// and returns where the word ends (past the byte or rune ending it).
func (l *loweredWords) lowerRest(text string, i int) int {
	for i < len(text) {
		c := text[i]
		if c < utf8.RuneSelf {
			i++
			if lc := asciiWordByte[c]; lc != 0 {
				l.buf = append(l.buf, lc)
				continue
			}
			return i
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		if !unicode.IsLetter(r) {
			return i
		}
		l.buf = utf8.AppendRune(l.buf, unicode.ToLower(r))
	}
	return i
}

// asciiWordByte is, for each ASCII byte, the byte it is in a lower-cased
// word, or 0 for a byte that is not in a word.
var asciiWordByte = func() (t [utf8.RuneSelf]byte) {
	for c := byte('a'); c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = c, c
	}
	t['\''] = '\''
	return t
}()
