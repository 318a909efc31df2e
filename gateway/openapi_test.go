package gateway_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/glimpse-go/glimpse/gateway"
)

// openAPIPath is the OpenAPI form of a mux pattern: "/{$}" is "/",
// "{file...}" is "{file}".
func openAPIPath(pattern string) string {
	p := strings.TrimSuffix(pattern, "{$}")
	return strings.ReplaceAll(p, "...}", "}")
}

// TestOpenAPIMatchesRoutes: every operation of the document is a route
// of the mux, every route of the mux is in the document, and the served
// gateway answers each documented operation with its handler (not the
// 404/405 of a path it does not know).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	g := gateway.New(gateway.Options{Dashboard: http.NotFoundHandler()})
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(gateway.OpenAPI(), &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("the document is not OpenAPI 3 JSON: %v (%q)", err, doc.OpenAPI)
	}
	var documented, routed []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" {
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	for _, r := range gateway.Routes(g) {
		routed = append(routed, r[0]+" "+openAPIPath(r[1]))
	}
	slices.Sort(documented)
	slices.Sort(routed)
	if !slices.Equal(documented, routed) {
		t.Errorf("document and mux differ:\ndocument: %v\nmux:      %v", documented, routed)
	}
	base := serve(t, gateway.Options{Dashboard: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })})
	param := regexp.MustCompile(`\{[a-z]+\}`)
	for _, op := range documented {
		method, path, _ := strings.Cut(op, " ")
		a := do(t, method, base+param.ReplaceAllString(path, "x"), nil)
		if a.status == 405 || a.status == 404 && strings.Contains(string(a.body), "no route") {
			t.Errorf("%s: %d %s: documented but not served", op, a.status, a.body)
		}
	}
	if a := do(t, "GET", base+"/openapi.json", nil); a.status != 200 || string(a.body) != string(gateway.OpenAPI()) {
		t.Errorf("GET /openapi.json: %d, not the document", a.status)
	}
}
