package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// ndjson is the media type of newline-delimited JSON: one item, or one
// result, a line.
const ndjson = "application/x-ndjson"

// functionView is an exposed function in GET /v1/functions.
type functionView struct {
	Name    string `json:"name"`
	In      string `json:"in"`  // the In shape (pool's Func.Shapes)
	Out     string `json:"out"` // the Out shape
	Gearman string `json:"gearman_function"`
}

func (g *Gateway) listFunctions(w http.ResponseWriter, r *http.Request) {
	views := []functionView{}
	for _, name := range Exposed() {
		f, _ := lookup(name)
		in, out := f.Shapes()
		views = append(views, functionView{Name: name, In: in, Out: out, Gearman: wire.GearmanPrefix + name})
	}
	writeJSON(w, http.StatusOK, map[string]any{"functions": views})
}

// function finds the route's function and, with needPool, the pool, or
// answers why not.
func (g *Gateway) function(w http.ResponseWriter, r *http.Request, needPool bool) (function, bool) {
	name := r.PathValue("name")
	f, ok := lookup(name)
	switch {
	case !ok && registered(name):
		errorf(w, http.StatusNotFound, "function %q is registered but not exposed over HTTP (gateway.Expose)", name)
	case !ok:
		errorf(w, http.StatusNotFound, "no function %q: see GET /v1/functions", name)
	case g.opts.Pool == nil && needPool:
		errorf(w, http.StatusServiceUnavailable, "no pool: this gateway runs no functions")
		return nil, false
	}
	return f, ok
}

func registered(name string) bool { _, ok := wire.Lookup(name); return ok }

// callFunction runs one item: the body is the item.
func (g *Gateway) callFunction(w http.ResponseWriter, r *http.Request) {
	f, ok := g.function(w, r, true)
	if !ok {
		return
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		fail(w, bodyError(err))
		return
	}
	item, err := f.decode(data, -1)
	if err != nil {
		fail(w, err)
		return
	}
	out, err := f.call(r.Context(), g.opts.Pool, item)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// mapFunction runs a JSON array of items, answering the array of results;
// NDJSON in or asked for (Accept) streams instead.
func (g *Gateway) mapFunction(w http.ResponseWriter, r *http.Request) {
	f, ok := g.function(w, r, true)
	if !ok {
		return
	}
	opts, err := mapOptions(r)
	if err != nil {
		fail(w, err)
		return
	}
	ndIn := mediaType(r.Header.Get("Content-Type")) == ndjson
	ndOut := ndIn || strings.Contains(r.Header.Get("Accept"), ndjson)
	items := newItemReader(r.Body, f, ndIn)
	if ndOut {
		g.streamMap(w, r, f, items, opts)
		return
	}
	all, err := items.readAll()
	if err != nil {
		fail(w, err)
		return
	}
	outs, err := f.mapAll(r.Context(), g.opts.Pool, all, opts...)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, outs)
}

// streamMap answers one result a line as the map yields them, reading
// items as the map asks for them: memory stays bounded by the map's
// window, whatever the input's length. An error once lines were sent
// ends the stream with an {"error": ...} line.
func (g *Gateway) streamMap(w http.ResponseWriter, r *http.Request, f function, items *itemReader, opts []pool.MapOption) {
	rc := http.NewResponseController(w)
	rc.EnableFullDuplex() // read items while results go out (HTTP/1.1)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	out := newLineWriter(w, rc)
	defer out.stop()
	for v, err := range f.imap(ctx, g.opts.Pool, items.seq(), opts...) {
		if err == nil {
			err = items.err
		}
		if err != nil {
			out.end(func(started bool) { g.endStream(w, started, err) })
			return
		}
		if out.write(v) != nil {
			return // the client left
		}
	}
	out.end(func(started bool) {
		switch {
		case items.err != nil:
			g.endStream(w, started, items.err)
		case !started:
			w.Header().Set("Content-Type", ndjson)
			w.WriteHeader(http.StatusOK)
		}
	})
}

// flushEvery bounds how long a streamed result waits in the answer's
// buffer: results of a chunk come in a burst, and one flush (a write
// syscall) per line would cost more than the map.
const flushEvery = 20 * time.Millisecond

// lineWriter writes NDJSON lines, flushed by a ticker when some are
// waiting, and at the end.
type lineWriter struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	rc      *http.ResponseController
	enc     *json.Encoder
	started bool // the header went out
	dirty   bool // lines wait in the buffer
	done    chan struct{}
	stopped chan struct{}
}

func newLineWriter(w http.ResponseWriter, rc *http.ResponseController) *lineWriter {
	lw := &lineWriter{w: w, rc: rc, enc: json.NewEncoder(w), done: make(chan struct{}), stopped: make(chan struct{})}
	go lw.flusher()
	return lw
}

func (lw *lineWriter) flusher() {
	defer close(lw.stopped)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-lw.done:
			return
		case <-t.C:
			lw.mu.Lock()
			if lw.dirty {
				lw.rc.Flush()
				lw.dirty = false
			}
			lw.mu.Unlock()
		}
	}
}

func (lw *lineWriter) write(v any) error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if !lw.started {
		lw.w.Header().Set("Content-Type", ndjson)
		lw.started = true
	}
	lw.dirty = true
	return lw.enc.Encode(v)
}

// end stops the flusher and runs last with the writer to itself.
func (lw *lineWriter) end(last func(started bool)) {
	lw.stop()
	last(lw.started)
}

func (lw *lineWriter) stop() {
	select {
	case <-lw.done:
	default:
		close(lw.done)
		<-lw.stopped
	}
}

// maxChunksize bounds the chunksize query parameter.
const maxChunksize = 1 << 20

// mapOptions reads the map's query: chunksize=N (items per Gearman job;
// 1 sends each item as it comes, for a stream fed slowly).
func mapOptions(r *http.Request) ([]pool.MapOption, error) {
	q := r.URL.Query()
	for name := range q {
		if name != "chunksize" {
			return nil, fieldError(name, errors.New("unknown query parameter: want chunksize"))
		}
	}
	s := q.Get("chunksize")
	if s == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxChunksize {
		return nil, fieldError("chunksize", fmt.Errorf("%q: want 1 to %d items", s, maxChunksize))
	}
	return []pool.MapOption{pool.Chunksize(n)}, nil
}

// endStream answers err: with its status before any result was sent,
// as a last line after.
func (g *Gateway) endStream(w http.ResponseWriter, started bool, err error) {
	if !started {
		fail(w, err)
		return
	}
	json.NewEncoder(w).Encode(errorBodyOf(err))
}

func mediaType(v string) string {
	if v == "application/x-www-form-urlencoded" || v == "application/json" {
		return v // what clients send, without parameters: no parsing
	}
	t, _, err := mime.ParseMediaType(v)
	if err != nil {
		return ""
	}
	return t
}

// bodyError wraps a body read error: 413 stays 413, others are the
// client's.
func bodyError(err error) error {
	if mbe := new(http.MaxBytesError); errors.As(err, &mbe) {
		return fmt.Errorf("request body over %d bytes (max_body): %w", mbe.Limit, err)
	}
	return &ItemError{Index: -1, Err: fmt.Errorf("reading the body: %w", err)}
}
