package gateway

import (
	_ "embed"
	"net/http"
)

// openAPI is the gateway's OpenAPI 3 document, served at /openapi.json;
// a test checks its paths against the routes.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the gateway's OpenAPI 3 document (JSON).
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}
