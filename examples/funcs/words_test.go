package funcs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// wordsByLoweringFirst is how forEachWord found words before it lowered
// them as it went: lower the whole text, then scan it.
func wordsByLoweringFirst(text string) []string {
	text = strings.ToLower(text)
	var words []string
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
			words = append(words, text[start:i])
			start = -1
		}
		i += size
	}
	if start >= 0 {
		words = append(words, text[start:])
	}
	return words
}

func words(text string) []string {
	var out []string
	forEachWord(text, func(w string) { out = append(out, w) })
	return out
}

// forEachWord finds the words that lowering the text first and then
// scanning it finds, in ASCII, accented and other scripts, with invalid
// UTF-8, and over this package's own sources.
func TestForEachWordAsLoweringFirst(t *testing.T) {
	texts := []string{
		"", " ", "a", "Hello, World!", "don't STOP'n", "x1y2_z", "'''",
		"Ça déjà VU, ÉTÉ", "Straße İstanbul KELVIN \u212a", "Ⅰ Ⅱ ⓐⒶ", "日本語 テキスト", "ΑΒΓ αβγ",
		"bad \xff\xfe utf8\xc3", "end with word", "tab\tnew\nline\r\n",
	}
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, string(data))
	}
	for _, text := range texts {
		if got, want := words(text), wordsByLoweringFirst(text); !slices.Equal(got, want) {
			t.Errorf("words of %.40q: got %d %.80q, want %d %.80q", text, len(got), got, len(want), want)
		}
	}
}

// Words that cross a 64-byte block of the masks, end the text at a
// block's end, or fill a block, mixed case or not, are found whole.
func TestForEachWordAcrossBlocks(t *testing.T) {
	var texts []string
	for _, word := range []string{"w", "word", "Word", "wörd", "WORD'S", strings.Repeat("x", 64), strings.Repeat("Ab", 40), strings.Repeat("é", 50)} {
		for pad := range 70 {
			text := strings.Repeat(" ", pad) + word
			texts = append(texts, text, text+" tail", text+"\xe2\x80\x94"+word, text+word)
		}
	}
	for _, n := range []int{63, 64, 65, 127, 128, 129} {
		texts = append(texts, strings.Repeat("a", n), strings.Repeat("A", n), strings.Repeat("a ", n)[:n], strings.Repeat("é", n))
	}
	for _, text := range texts {
		if got, want := words(text), wordsByLoweringFirst(text); !slices.Equal(got, want) {
			t.Errorf("words of %q: got %q, want %q", text, got, want)
		}
	}
}

// blockMasks marks each byte as the byte table says: in a word or not,
// and mixed (capital or non-ASCII) or not, for every byte value at every
// place of a block, and none past the end of a short text.
func TestBlockMasksAsTable(t *testing.T) {
	for c := range 256 {
		for n := 1; n <= 64; n++ {
			block := []byte(strings.Repeat("a", n))
			block[(c*7)%n] = byte(c)
			in, mixed := blockMasks(string(block), 0)
			for i := range 64 {
				wantIn, wantMixed := false, false
				if i < n {
					kind := asciiKind[block[i]]
					wantIn, wantMixed = kind != notInWord, kind == upperInWord || kind == nonASCII
				}
				if got := in>>i&1 == 1; got != wantIn {
					t.Fatalf("%q: byte %d in a word %v, want %v", block, i, got, wantIn)
				}
				if got := mixed>>i&1 == 1; got != wantMixed {
					t.Fatalf("%q: byte %d mixed %v, want %v", block, i, got, wantMixed)
				}
			}
		}
	}
}

// forEachWord finds the words lowering first finds in any text.
func FuzzForEachWord(f *testing.F) {
	for _, s := range []string{"Hello, World!", "don't STOP'n", "Ça déjà VU", "bad \xff\xfe utf8\xc3", strings.Repeat("ab ", 30)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if got, want := words(text), wordsByLoweringFirst(text); !slices.Equal(got, want) {
			t.Errorf("words of %q: got %q, want %q", text, got, want)
		}
	})
}

// A word handed to fn stays as it was after forEachWord returns and is
// called again (the table of a chunk keeps its keys).
func TestForEachWordKeepsWords(t *testing.T) {
	var kept []string
	forEachWord("Alpha beta", func(w string) { kept = append(kept, w) })
	forEachWord("GAMMA delta", func(string) {})
	if !slices.Equal(kept, []string{"alpha", "beta"}) {
		t.Fatalf("kept %q, want [alpha beta]", kept)
	}
}

// The 8-byte classifiers agree with the byte table for every byte value
// at every position of a word, among bytes of every other kind.
func TestWordBytesAsTable(t *testing.T) {
	for c := range 256 {
		for pos := range 8 {
			for _, fill := range []byte{'a', 'Z', ' ', 0x80, '\'', 0} {
				var b [8]byte
				for i := range b {
					b[i] = fill
				}
				b[pos] = byte(c)
				x := load8(string(b[:]))
				lower, word := lowerBytes(x), wordBytes(x)
				for i, v := range b {
					bit := uint64(0x80) << (8 * i)
					if got, want := lower&bit != 0, asciiKind[v] == lowerInWord; got != want {
						t.Fatalf("lowerBytes(%q) byte %d: %v, want %v", b, i, got, want)
					}
					if got, want := word&bit != 0, asciiKind[v] != notInWord; got != want {
						t.Fatalf("wordBytes(%q) byte %d: %v, want %v", b, i, got, want)
					}
				}
				if other := ^uint64(0x8080808080808080); lower&other != 0 || word&other != 0 {
					t.Fatalf("%q: bits other than bytes' high bits set: %x %x", b, lower, word)
				}
			}
		}
	}
}

// Words already lower case are handed to fn as they are in the text,
// not copied (a lowered copy of every word, and a string of the copies,
// were a fifth of a worker's word count); the others are lowered.
func TestForEachWordCopiesNoLowerCaseWord(t *testing.T) {
	text := strings.Repeat("the quick brown fox's jump over a lazy dog\n", 100) + "Mixed CASE"
	first := uintptr(unsafe.Pointer(unsafe.StringData(text)))
	var copied, lowered []string
	forEachWord(text, func(w string) {
		at := uintptr(unsafe.Pointer(unsafe.StringData(w)))
		inText := at >= first && at < first+uintptr(len(text))
		switch {
		case w == "mixed" || w == "case":
			lowered = append(lowered, w)
		case !inText:
			copied = append(copied, w)
		}
	})
	if len(copied) > 0 {
		t.Fatalf("%d lower-case words copied, as %q", len(copied), copied[:min(5, len(copied))])
	}
	if !slices.Equal(lowered, []string{"mixed", "case"}) {
		t.Fatalf("mixed-case words %q, want [mixed case]", lowered)
	}
}
