package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegen/imagegen/jobqueue"
)

// ModelInfo describes one model a client may name.
type ModelInfo struct {
	Name        string `json:"id"`
	Family      string `json:"family,omitempty"`
	Description string `json:"description,omitempty"`
	// Width and Height are the model's default picture size (0 = unknown
	// until loaded).
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
}

// Options configure a Server. Zero values mean the documented defaults.
type Options struct {
	// Queue runs the jobs (required).
	Queue jobqueue.Queue
	// Models lists the names clients may use; anything else is refused
	// with 404 before a job is made (required, non-empty).
	Models []ModelInfo
	// DefaultModel is used when a request names none (default: the first
	// of Models).
	DefaultModel string
	// Check validates a job before it is queued (for example
	// engine.Engine.Check); nil checks nothing beyond the model name.
	Check func(*jobqueue.Spec) error
	// Loaded reports the models currently in memory, for /v1/models and
	// readiness; nil reports none.
	Loaded func() []string
	// APIKey, when set, is required as "Authorization: Bearer KEY" on every
	// endpoint except /healthz, /readyz, the web page and result URLs
	// (which are unguessable).
	APIKey string
	// MaxBodyBytes bounds a request body (default 32 MiB: an edit with two
	// 2048×2048 PNGs in base64 fits).
	MaxBodyBytes int64
	// RequestTimeout bounds a synchronous generation, queueing included
	// (default 5m); the job is cancelled when it passes.
	RequestTimeout time.Duration
	// ReadHeaderTimeout (default 10s), BodyReadTimeout (default 1m: the
	// whole request body must arrive within it) and IdleTimeout (default
	// 2m) guard the connections against slow or idle clients. There is no
	// server-wide read or write timeout: it would cut long generations and
	// event streams, which RequestTimeout bounds instead.
	ReadHeaderTimeout, BodyReadTimeout, IdleTimeout time.Duration
	// PublicURL is the server's address as clients reach it (behind a
	// proxy), for result URLs; "" uses the Host of each request.
	PublicURL string
	// Logger receives one line per request (default slog.Default()).
	Logger *slog.Logger
	// Metrics is where the server registers its Prometheus metrics
	// (default: a new registry of its own, with the Go and process
	// collectors).
	Metrics *prometheus.Registry
}

func (o *Options) fill() error {
	if o.Queue == nil {
		return errors.New("server: no queue")
	}
	if len(o.Models) == 0 {
		return errors.New("server: no models")
	}
	if o.DefaultModel == "" {
		o.DefaultModel = o.Models[0].Name
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 32 << 20
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Minute
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.BodyReadTimeout <= 0 {
		o.BodyReadTimeout = time.Minute
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 2 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Check == nil {
		o.Check = func(*jobqueue.Spec) error { return nil }
	}
	if o.Loaded == nil {
		o.Loaded = func() []string { return nil }
	}
	return nil
}

// Server serves the HTTP APIs over a queue.
type Server struct {
	opts    Options
	models  map[string]ModelInfo
	metrics *metrics
	handler http.Handler

	closing     chan struct{} // closed when shutdown starts: event streams end
	closingOnce sync.Once

	// sdapi is the AUTOMATIC1111 API's server-wide state.
	sdapi sdapiState
}

// New returns a server; it starts nothing until Serve.
func New(opts Options) (*Server, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, models: map[string]ModelInfo{}, closing: make(chan struct{})}
	for _, m := range opts.Models {
		s.models[m.Name] = m
	}
	if _, ok := s.models[opts.DefaultModel]; !ok {
		return nil, errors.New("server: default model " + opts.DefaultModel + " is not among the models")
	}
	s.sdapi.model = opts.DefaultModel
	s.metrics = newMetrics(opts.Metrics, opts.Queue, opts.Loaded)
	s.handler = s.middleware(s.routes())
	return s, nil
}

// Handler returns the server's HTTP handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metrics.handler())

	mux.HandleFunc("GET /v1/models", s.listModels)
	mux.HandleFunc("GET /v1/models/{model}", s.getModel)
	mux.HandleFunc("POST /v1/images/generations", s.imagesGenerations)
	mux.HandleFunc("POST /v1/images/edits", s.imagesEdits)

	mux.HandleFunc("POST /v1/jobs", s.createJob)
	mux.HandleFunc("GET /v1/jobs/{id}", s.getJob)
	mux.HandleFunc("DELETE /v1/jobs/{id}", s.cancelJob)
	mux.HandleFunc("GET /v1/jobs/{id}/events", s.jobEvents)
	mux.HandleFunc("GET /v1/results/{key}", s.getResult)

	mux.HandleFunc("POST /sdapi/v1/txt2img", s.sdTxt2img)
	mux.HandleFunc("POST /sdapi/v1/img2img", s.sdImg2img)
	mux.HandleFunc("GET /sdapi/v1/progress", s.sdProgress)
	mux.HandleFunc("GET /sdapi/v1/sd-models", s.sdModels)
	mux.HandleFunc("GET /sdapi/v1/samplers", s.sdSamplers)
	mux.HandleFunc("GET /sdapi/v1/options", s.sdGetOptions)
	mux.HandleFunc("POST /sdapi/v1/options", s.sdSetOptions)

	mux.HandleFunc("GET /{$}", s.webPage)
	mux.HandleFunc("/", s.notFound)
	return mux
}

// Serve accepts connections on ln until ctx ends, then shuts down
// gracefully: it stops accepting, ends event streams, and waits up to
// grace for requests in flight (a synchronous generation finishes if it
// can) before closing the connections.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.closingOnce.Do(func() { close(s.closing) })
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := hs.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		hs.Close()
	}
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz says whether a new job would be accepted now.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	st := s.opts.Queue.Stats()
	select {
	case <-s.closing:
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "shutting down"})
		return
	default:
	}
	body := map[string]any{"status": "ready", "waiting": st.Waiting, "running": st.Running, "max_waiting": st.MaxWaiting, "loaded_models": s.opts.Loaded()}
	if st.Waiting >= st.MaxWaiting {
		body["status"] = "queue full"
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "not_found",
		message: "no route for " + r.Method + " " + r.URL.Path})
}
