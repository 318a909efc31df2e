package config

import (
	"errors"
	"fmt"
	"strings"
)

// Error is one problem in a config file, or in a [Client], [Server],
// [Worker] or [Fanout] built in code. A file with several problems yields
// them all, joined with [errors.Join]; find them with [errors.As].
type Error struct {
	File    string // the path given to Load or the name given to Parse; "" for a value built in code
	Line    int    // 1-based line of the key (or of the section header); 0 when unknown
	Section string // section name without brackets; "DEFAULT" for keys above the first header
	Key     string // "" when the problem is the whole section or file
	Err     error
}

// Error formats as "FILE:LINE: [section] key: problem", leaving out the
// parts that are unknown, so it reads like a compiler diagnostic.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	switch {
	case e.Section != "" && e.Key != "":
		fmt.Fprintf(&b, "[%s] %s: ", e.Section, e.Key)
	case e.Section != "":
		fmt.Fprintf(&b, "[%s]: ", e.Section)
	case e.Key != "":
		b.WriteString(e.Key + ": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("invalid")
	}
	return b.String()
}

// Unwrap gives the cause, so errors.Is(err, fs.ErrNotExist) works.
func (e *Error) Unwrap() error { return e.Err }

// join returns nil, the only error itself (so a type assertion works in
// the common single-problem case), or all of them joined.
func join(errs []*Error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}
