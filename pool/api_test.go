package pool

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoWorkerProtocolInAPI: the names that only the worker runtime needs
// live in internal/wire, so go doc shows a program only what it calls.
func TestNoWorkerProtocolInAPI(t *testing.T) {
	protocol := map[string]bool{
		"GearmanPrefix": true, "CommandTopic": true, "ChunkMapID": true, "ChunkStarted": true,
		"ParseCommand": true, "WorkerClientID": true, "ParseWorkerClientID": true,
		"Function": true, "Functions": true, "Lookup": true,
	}
	for _, name := range exportedNames(t) {
		if protocol[name] {
			t.Errorf("pool exports the worker protocol's %s", name)
		}
	}
}

// exportedNames returns the package-level names that pool exports.
func exportedNames(t *testing.T) []string {
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	fset := token.NewFileSet()
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			names = append(names, declNames(decl)...)
		}
	}
	var exported []string
	for _, n := range names {
		if ast.IsExported(n) {
			exported = append(exported, n)
		}
	}
	return exported
}

func declNames(decl ast.Decl) []string {
	var names []string
	switch d := decl.(type) {
	case *ast.FuncDecl:
		if d.Recv == nil {
			names = append(names, d.Name.Name)
		}
	case *ast.GenDecl:
		for _, spec := range d.Specs {
			switch s := spec.(type) {
			case *ast.TypeSpec:
				names = append(names, s.Name.Name)
			case *ast.ValueSpec:
				for _, n := range s.Names {
					names = append(names, n.Name)
				}
			}
		}
	}
	return names
}
