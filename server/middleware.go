package server

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/imagegen/imagegen/jobqueue"
)

type ctxKey int

const requestIDKey ctxKey = 0

// requestID returns the id the middleware gave the request.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// statusWriter records the status code and keeps http.Flusher working for
// event streams.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// validRequestID accepts a client's X-Request-ID when it is short and
// plain, so that it can go into logs as it is.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// public reports whether a path is served without the API key.
func public(r *http.Request) bool {
	p := r.URL.Path
	return p == "/healthz" || p == "/readyz" || (p == "/" && r.Method == http.MethodGet) ||
		strings.HasPrefix(p, "/v1/results/")
}

// middleware wraps every request: a request id, panic recovery, the body
// limit, the API key, metrics and a log line.
func (s *Server) middleware(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = jobqueue.NewID()[:16]
		}
		w.Header().Set("X-Request-ID", id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		sw := &statusWriter{ResponseWriter: w}
		if r.ContentLength != 0 {
			r.Body = withReadDeadline(w, r.Body, s.opts.BodyReadTimeout)
		}
		r.Body = http.MaxBytesReader(sw, r.Body, s.opts.MaxBodyBytes)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.opts.Logger.Error("handler panic", "request_id", id, "panic", fmt.Sprint(p))
				if sw.status == 0 {
					s.writeError(sw, r, &apiError{status: http.StatusInternalServerError, typ: "server_error", code: "internal_error", message: "internal error"})
				}
			}
			route := r.Pattern
			if route == "" || route == "/" {
				route = "other"
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			elapsed := time.Since(start)
			s.metrics.observe(route, status, elapsed)
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelWarn
			}
			s.opts.Logger.Log(r.Context(), level, "request", "request_id", id, "method", r.Method, "path", r.URL.Path,
				"status", status, "bytes", sw.bytes, "duration_ms", float64(elapsed.Microseconds())/1000, "remote", r.RemoteAddr)
		}()
		if s.opts.APIKey != "" && !public(r) && !s.authorized(r) {
			sw.Header().Set("WWW-Authenticate", `Bearer realm="imagegen"`)
			s.writeError(sw, r, &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "invalid_api_key",
				message: "missing or wrong API key: send Authorization: Bearer KEY"})
			return
		}
		mux.ServeHTTP(sw, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	key, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(key)), []byte(s.opts.APIKey)) == 1
}

// deadlineBody clears the connection's read deadline once the body has
// been read: the deadline bounds the upload only, and left in place it
// would cancel the request's context while a long generation runs.
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	cleared bool
}

func withReadDeadline(w http.ResponseWriter, body io.ReadCloser, d time.Duration) io.ReadCloser {
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(d)) != nil {
		return body // not supported by this writer (a test recorder)
	}
	return &deadlineBody{ReadCloser: body, rc: rc}
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.cleared {
		b.cleared = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
