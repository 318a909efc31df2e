package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Encoding is how a POST carries its params.
type Encoding string

const (
	// Form sends the params as application/x-www-form-urlencoded, as
	// Miyamoto does (the default).
	Form Encoding = "form"
	// JSON sends Request.JSON as is, or else the params as a JSON object
	// (one value: a string; several: an array of strings), as
	// application/json.
	JSON Encoding = "json"
)

// MaxTimeout is the longest Request.Timeout accepted.
const MaxTimeout = time.Hour

// Request is one webhook call: the item of the Deliver function.
type Request struct {
	URL    string `msgpack:"url" json:"url"`
	Method string `msgpack:"method,omitempty" json:"method,omitempty"` // "POST" (default) or "GET"
	// Params are sent form-encoded or as JSON (POST) or in the query
	// string (GET).
	Params   map[string][]string `msgpack:"params,omitempty" json:"params,omitempty"`
	Encoding Encoding            `msgpack:"encoding,omitempty" json:"encoding,omitempty"` // Form (default) or JSON
	// JSON, with Encoding JSON, is the params object as it was enqueued
	// (numbers and nesting kept), sent verbatim instead of Params.
	JSON json.RawMessage `msgpack:"json,omitempty" json:"json,omitempty"`

	// The task the call belongs to, sent as headers: the task service
	// fills them (see Config.TaskInfo for the attempt).
	TaskID  string `msgpack:"task_id,omitempty" json:"task_id,omitempty"`
	Queue   string `msgpack:"queue,omitempty" json:"queue,omitempty"`
	Attempt int    `msgpack:"attempt,omitempty" json:"attempt,omitempty"` // from 1

	// Timeout bounds the whole call, redirects and body included; 0:
	// the worker's default ([http] webhook_timeout, 30s). At most
	// MaxTimeout.
	Timeout time.Duration `msgpack:"timeout,omitempty" json:"timeout,omitempty"`
}

// Response is a 2xx answer: the result of the Deliver function.
type Response struct {
	Status    int    `msgpack:"status" json:"status"`
	Body      []byte `msgpack:"body,omitempty" json:"body,omitempty"` // at most MaxResponseBody bytes
	Truncated bool   `msgpack:"truncated,omitempty" json:"truncated,omitempty"`
}

// Check returns a *RequestError naming the first field of r that cannot
// be sent, or nil.
func (r *Request) Check() error {
	if _, err := r.target(); err != nil {
		return err
	}
	if _, err := r.method(); err != nil {
		return err
	}
	if _, err := r.encoding(); err != nil {
		return err
	}
	if r.Timeout < 0 || r.Timeout > MaxTimeout {
		return &RequestError{Field: "Timeout", Value: r.Timeout.String(), Reason: "want 0 (the default) up to " + MaxTimeout.String()}
	}
	return nil
}

// target parses and checks URL: absolute, http or https, with a host.
func (r *Request) target() (*url.URL, error) {
	bad := func(reason string) error { return &RequestError{Field: "URL", Value: redact(r.URL), Reason: reason} }
	if r.URL == "" {
		return nil, bad("empty: want an http:// or https:// URL")
	}
	u, err := url.Parse(r.URL)
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the *url.Error repeats the URL, password included
		}
		return nil, bad("not a URL: " + err.Error())
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, bad("want an http:// or https:// URL")
	case u.Host == "" || u.Hostname() == "":
		return nil, bad("no host")
	}
	return u, nil
}

func (r *Request) method() (string, error) {
	switch m := strings.ToUpper(r.Method); m {
	case "":
		return http.MethodPost, nil
	case http.MethodPost, http.MethodGet:
		return m, nil
	}
	return "", &RequestError{Field: "Method", Value: r.Method, Reason: "want POST or GET"}
}

func (r *Request) encoding() (Encoding, error) {
	switch e := Encoding(strings.ToLower(string(r.Encoding))); e {
	case "", Form:
		if len(r.JSON) > 0 {
			return "", &RequestError{Field: "JSON", Value: abbrev(r.JSON), Reason: "given with Encoding " + string(Form) + ": set Encoding to json, or send Params"}
		}
		return Form, nil
	case JSON:
		if len(r.JSON) > 0 && !json.Valid(r.JSON) {
			return "", &RequestError{Field: "JSON", Value: abbrev(r.JSON), Reason: "not valid JSON"}
		}
		if len(r.JSON) > 0 && strings.EqualFold(r.Method, http.MethodGet) {
			return "", &RequestError{Field: "JSON", Value: abbrev(r.JSON), Reason: "a GET carries its params in the query string: give Params instead"}
		}
		return JSON, nil
	}
	return "", &RequestError{Field: "Encoding", Value: string(r.Encoding), Reason: "want form or json"}
}

// build makes the HTTP request and returns it with its signed payload:
// the body of a POST, the raw query of a GET.
func (r *Request) build() (*http.Request, []byte, error) {
	if err := r.Check(); err != nil {
		return nil, nil, err
	}
	u, _ := r.target()
	method, _ := r.method()
	if method == http.MethodGet {
		q := u.Query()
		for k, vs := range r.Params {
			q[k] = append(q[k], vs...)
		}
		u.RawQuery = q.Encode()
		hr, err := http.NewRequest(method, u.String(), nil)
		return hr, []byte(u.RawQuery), err
	}
	body, ctype, err := r.body()
	if err != nil {
		return nil, nil, err
	}
	hr, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
	if err == nil {
		hr.Header.Set("Content-Type", ctype)
	}
	return hr, body, err
}

// body encodes a POST's params as enqueued.
func (r *Request) body() ([]byte, string, error) {
	enc, _ := r.encoding()
	if enc == Form {
		return []byte(url.Values(r.Params).Encode()), "application/x-www-form-urlencoded", nil
	}
	if len(r.JSON) > 0 {
		return r.JSON, "application/json", nil
	}
	obj := make(map[string]any, len(r.Params))
	for k, vs := range r.Params {
		if len(vs) == 1 {
			obj[k] = vs[0]
		} else {
			obj[k] = vs
		}
	}
	body, err := json.Marshal(obj)
	return body, "application/json", err
}

// redact hides a URL's password, for errors and logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}

func abbrev(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}
