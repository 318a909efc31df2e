package funcs

import (
	"math/bits"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// forEachWord calls fn on each word of text, lower-cased: the runs of
// letters and apostrophes of the lower-cased text, in order. A word
// already lower case (most are) is handed to fn as a substring of text;
// the others are lowered end to end into a buffer of this call's own,
// and handed to fn as substrings of it: counting a word already in a
// table allocates nothing.
//
// The text is read 64 bytes at a time into two masks, one bit a byte
// (blockMasks): the bytes that may be in a word (ASCII letters,
// apostrophes, any non-ASCII byte), and of those the mixed ones, which
// lowering may change (capitals, non-ASCII). Runs of the first start and
// end where it changes from the byte before, found by counting bits, not
// by a branch per byte: finding the words had cost as much as counting
// them. A run with no mixed byte is a word as it is; one of ASCII is a
// word lowered by or-ing 0x20; the others, with non-ASCII runes that may
// be letters or not, are read rune by rune (words). (Copying every word
// lowered was a fifth of a worker's word count; collecting the words'
// places first, then calling fn on each, was another tenth of it.)
func forEachWord(text string, fn func(word string)) {
	var low loweredWords
	var carry uint64 // 1: the last byte of the block before is in a run
	start := -1      // where the run in progress starts; -1: none
	mixedRun := false
	from := 0 // the run's first byte in this block (0 if it started before)
	for base := 0; base < len(text); base += 64 {
		in, mixed := blockMasks(text, base)
		edges := in ^ (in<<1 | carry)
		carry = in >> 63
		for edges != 0 {
			b := bits.TrailingZeros64(edges)
			edges &= edges - 1
			if start < 0 {
				start, mixedRun, from = base+b, false, b
				continue
			}
			if mixedRun || mixed&(1<<b-1)>>from != 0 {
				low.mixedRun(text[start:base+b], len(text), fn)
			} else {
				fn(text[start : base+b])
			}
			start = -1
		}
		if start >= 0 { // the run goes on into the next block
			mixedRun = mixedRun || mixed>>from != 0
			from = 0
		}
	}
	switch {
	case start < 0:
	case mixedRun:
		low.mixedRun(text[start:], len(text), fn)
	default:
		fn(text[start:])
	}
}

// mixedRun calls fn on the words of a run with a mixed byte, of a text of
// n bytes: the run lowered if it is ASCII (one word), else its words
// read rune by rune.
func (l *loweredWords) mixedRun(run string, n int, fn func(word string)) {
	if isASCII(run) {
		fn(l.lowerASCII(run, n))
		return
	}
	l.words(run, n, fn)
}

// isASCII says whether s has no byte of a multi-byte rune.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lowerASCII returns run, a run of ASCII letters and apostrophes of a
// text of n bytes (one word), lowered: or-ing 0x20 lowers A-Z and leaves
// a-z and the apostrophe as they are.
func (l *loweredWords) lowerASCII(run string, n int) string {
	from := l.start(n)
	l.buf = append(l.buf, run...)
	for i := from; i < len(l.buf); i++ {
		l.buf[i] |= 0x20
	}
	return l.word(from)
}

// words calls fn on each word of run, a run of bytes that may be in a
// word (see wordRuns) of a text of n bytes, lowering as it goes: a
// non-ASCII rune that is not a letter ends a word.
func (l *loweredWords) words(run string, n int, fn func(word string)) {
	for i := skipNotInWord(run, 0); i < len(run); i = skipNotInWord(run, i) {
		start := i
		i = skipLower(run, i)
		if i == len(run) || asciiKind[run[i]] == notInWord {
			fn(run[start:i])
			continue
		}
		from := l.start(n)
		l.buf = append(l.buf, run[start:i]...)
		i = l.lowerRest(run, i)
		if len(l.buf) > from {
			fn(l.word(from))
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
