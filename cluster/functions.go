package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/glimpse-go/glimpse/internal/wire"
)

// selectFunctions picks the functions named in names out of all, or all
// of them if names is empty.
func selectFunctions(all []wire.Function, names []string) ([]wire.Function, error) {
	if len(all) == 0 {
		return nil, errors.New("no functions are registered: the worker binary must import the package that calls pool.Register")
	}
	if len(names) == 0 {
		return all, nil
	}
	byName := make(map[string]wire.Function, len(all))
	for _, f := range all {
		byName[f.Name()] = f
	}
	var out []wire.Function
	var unknown []string
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return nil, fmt.Errorf("function %q listed twice", n)
		}
		seen[n] = true
		f, ok := byName[n]
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		out = append(out, f)
	}
	if len(unknown) > 0 {
		return nil, &UnknownFunctionsError{Names: unknown, Registered: functionNames(all)}
	}
	return out, nil
}

// UnknownFunctionsError is returned by NewWorker when it is asked to serve
// functions this binary does not register.
type UnknownFunctionsError struct {
	Names      []string // the names asked for that are not registered
	Registered []string // every registered name
}

func (e *UnknownFunctionsError) Error() string {
	q := make([]string, len(e.Names))
	for i, n := range e.Names {
		q[i] = fmt.Sprintf("%q", n)
		if s, ok := strings.CutPrefix(n, wire.GearmanPrefix); ok && slices.Contains(e.Registered, s) {
			q[i] += fmt.Sprintf(" (did you mean %s?)", s)
		}
	}
	what := "function"
	if len(q) > 1 {
		what = "functions"
	}
	return fmt.Sprintf("unknown %s %s: this binary registers %s",
		what, strings.Join(q, ", "), strings.Join(e.Registered, ", "))
}

func functionNames(fs []wire.Function) []string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name()
	}
	return names
}

// Functions lists the registered names of the functions the worker serves.
func (w *Worker) Functions() []string { return functionNames(w.funcs) }
