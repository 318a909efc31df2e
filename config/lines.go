package config

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/ini.v1"
)

// lineIndex remembers where sections and keys first appear. ini.v1 keeps
// no line numbers, and an operator fixing a file wants one, so this is a
// second, rough reading of the same text. It only ever labels errors: a
// line it gets wrong (say, inside a multi-line quoted value) costs a
// wrong or missing line number, never a wrong verdict.
type lineIndex struct {
	sections map[string]int
	keys     map[[2]string]int
}

func indexLines(data []byte) lineIndex {
	idx := lineIndex{sections: make(map[string]int), keys: make(map[[2]string]int)}
	section := ini.DefaultSection
	for i, line := range splitLines(data) {
		n := i + 1
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			end := strings.LastIndexByte(line, ']') // as ini.v1 reads a header
			if end < 0 {
				continue
			}
			section = line[1:end]
			if _, ok := idx.sections[section]; !ok {
				idx.sections[section] = n
			}
		default:
			end := strings.IndexAny(line, "=:")
			if end <= 0 {
				continue
			}
			// Keys are case-insensitive (iniOptions), so lowercase as ini.v1 does.
			key := strings.ToLower(strings.Trim(strings.TrimSpace(line[:end]), "\"`"))
			k := [2]string{section, key}
			if _, ok := idx.keys[k]; !ok {
				idx.keys[k] = n
			}
		}
	}
	return idx
}

// find returns the line of the key, else of its section's header, else 0.
func (idx lineIndex) find(section, key string) int {
	if n, ok := idx.keys[[2]string{section, key}]; ok && key != "" {
		return n
	}
	return idx.sections[section]
}

// splitLines returns the trimmed lines of data, without a UTF-8 BOM.
func splitLines(data []byte) []string {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	lines := strings.Split(string(data), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return lines
}

// syntaxError turns ini.v1's parse error, which stops at the first bad
// line and names no line number, into an *Error with the line found back
// in data where ini.v1 tells us the offending text.
func syntaxError(name string, data []byte, err error) error {
	e := &Error{File: name}
	var text string
	switch {
	case ini.IsErrDelimiterNotFound(err):
		var d ini.ErrDelimiterNotFound
		errors.As(err, &d)
		text = strings.TrimSpace(d.Line)
		e.Err = fmt.Errorf("%q: not a [section] header or a key = value line", text)
	case ini.IsErrEmptyKeyName(err):
		var d ini.ErrEmptyKeyName
		errors.As(err, &d)
		text = strings.TrimSpace(d.Line)
		e.Err = fmt.Errorf("%q: no key name before the '='", text)
	case strings.HasPrefix(err.Error(), "unclosed section: "):
		text = strings.TrimSpace(strings.TrimPrefix(err.Error(), "unclosed section: "))
		e.Err = fmt.Errorf("%q: section header without its closing ']'", text)
	case err.Error() == "empty section name":
		text = "[]"
		e.Err = errors.New("empty section name \"[]\"")
	default:
		e.Err = fmt.Errorf("syntax error: %s", strings.TrimSpace(err.Error()))
	}
	if text != "" {
		for i, line := range splitLines(data) {
			if line == text || text == "[]" && strings.HasPrefix(line, "[]") {
				e.Line = i + 1
				break
			}
		}
	}
	return e
}
