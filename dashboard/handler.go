package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"time"
)

//go:embed static
var static embed.FS

// Option configures New.
type Option func(*handler)

// WithTasks shows the task service's tasks by state.
func WithTasks(t TaskStates) Option { return func(h *handler) { h.tasks = t } }

// keepAlive is how often an idle log stream sends a comment, so that
// proxies and the browser keep it open.
const keepAlive = 15 * time.Second

type handler struct {
	src   Source
	tasks TaskStates // nil: "no task service" (unless src is one)
	mux   *http.ServeMux
}

// New returns the dashboard: the page at "/", its files under
// "/static/", the cluster as JSON at "/api/state", and the log stream as
// server-sent events at "/api/logs?level=LEVEL" (debug, info, warn or
// error: that level and above).
func New(src Source, opts ...Option) http.Handler {
	h := &handler{src: src, mux: http.NewServeMux()}
	if t, ok := src.(TaskStates); ok {
		h.tasks = t
	}
	for _, o := range opts {
		o(h)
	}
	files, _ := fs.Sub(static, "static")
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(files)))
	h.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, files, "index.html")
	})
	h.mux.HandleFunc("GET /api/state", h.state)
	h.mux.HandleFunc("GET /api/logs", h.logs)
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The page loads nothing from elsewhere, and nobody frames it.
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

func (h *handler) state(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	snap := h.src.Snapshot(ctx)
	if h.tasks != nil {
		states, err := h.tasks.TaskStates(ctx)
		if err != nil {
			snap.Problems = append(snap.Problems, "task service: "+err.Error())
		}
		if states == nil {
			states = map[string]int{}
		}
		snap.Tasks = states
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(snap)
}

// logs streams log records at the level asked or above, as server-sent
// events, until the client goes or the server stops.
func (h *handler) logs(w http.ResponseWriter, r *http.Request) {
	min := slog.LevelDebug
	if s := r.URL.Query().Get("level"); s != "" {
		if err := min.UnmarshalText([]byte(s)); err != nil {
			http.Error(w, "level "+s+": want debug, info, warn or error", http.StatusBadRequest)
			return
		}
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(": log stream\n\n"))
	flusher.Flush()
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	records := h.src.Logs(r.Context())
	for {
		select {
		case rec, ok := <-records:
			if !ok {
				return
			}
			if LevelOf(rec) < min {
				continue
			}
			data, _ := json.Marshal(rec)
			w.Write([]byte("data: "))
			w.Write(data)
			w.Write([]byte("\n\n"))
		case <-tick.C:
			w.Write([]byte(": keep-alive\n\n"))
		case <-r.Context().Done():
			return
		}
		flusher.Flush()
	}
}
