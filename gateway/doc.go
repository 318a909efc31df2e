// Package gateway is the HTTP gateway of a glimpse-go cluster
// (glimpse-cluster http): the registered functions as JSON, Miyamoto's
// task enqueue, the tasks, the dashboard, for any language.
//
// Routes (the OpenAPI 3 document, OpenAPI(), is served at /openapi.json;
// a test keeps it equal to the routes):
//
//	GET    /v1/functions               exposed functions, their In/Out shapes
//	POST   /v1/functions/{name}/map    JSON array (or NDJSON) of items -> results in order
//	POST   /v1/functions/{name}/call   one item -> its result
//	POST   /v1/functions/{name}/tasks  enqueue a task of the function
//	POST   /queue, /queue/{name}       Miyamoto's enqueue of a webhook call (form or JSON)
//	GET    /tasks/{id}                 a task: state, attempts, last error, result
//	DELETE /tasks/{id}                 cancel a scheduled, queued or retrying task
//	GET    /queues                     per queue: scheduled, queued, running, retrying, rate
//	GET    /healthz, /readyz           health, without a token
//	GET    /, /static/, /api/...       the dashboard, when Options.Dashboard is set
//
// # JSON and the function's types
//
// Function values cannot travel, and neither can their types: the gateway
// serves the functions its own binary exposes with Expose, next to
// pool.Register. Expose records a JSON adapter for the function's In and
// Out: items decode with encoding/json (unknown object fields refused)
// and a value that does not fit answers 400 naming the item's index and
// the field: {"error": "item 3: field \"x\": want number, got string",
// "index": 3, "field": "x"}. The pool registry stays msgpack-only; the
// gateway's registry is a view of it for the functions that chose JSON.
//
// # Tasks
//
// The task routes run over the Tasks interface, shaped after package
// tasks; a gateway given no Tasks answers them 503 "task service not
// configured". A Miyamoto enqueue is a task of the built-in
// webhook.Deliver with a webhook.Request (URL, Method, Params or JSON,
// Encoding, Queue); the Idempotency-Key header (or task.key / key) is the
// task's key.
//
// # Serving
//
// Serve binds what it is given (Listen defaults to loopback), refuses on
// loopback requests naming another host (DNS rebinding), asks the bearer
// token on every route but the health checks, bounds bodies (413) and
// requests at once (429), and on shutdown lets requests in flight finish
// within a bound while /readyz answers 503.
package gateway
