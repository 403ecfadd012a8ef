package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/imagegen/imagegen/jobqueue"
)

// apiError is an error response. It is written in the shape of the API
// the request came to: OpenAI's {"error": {...}} or, under /sdapi/,
// AUTOMATIC1111's {"error", "detail", ...}.
type apiError struct {
	status     int
	typ        string // OpenAI's error type
	code       string
	param      string
	message    string
	retryAfter time.Duration
}

func (e *apiError) Error() string { return e.message }

func badRequest(param, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: "invalid_value",
		param: param, message: fmt.Sprintf(format, args...)}
}

// toAPIError maps an error of the queue or of a job to a response.
func (s *Server) toAPIError(err error) *apiError {
	var ae *apiError
	var re *jobqueue.RunError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, jobqueue.ErrFull):
		return &apiError{status: http.StatusTooManyRequests, typ: "rate_limit_error", code: "queue_full",
			message: "the server's queue is full; retry later", retryAfter: s.retryAfter()}
	case errors.Is(err, jobqueue.ErrNotFound):
		return &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "not_found", message: "no such job or result (it may have expired)"}
	case errors.Is(err, jobqueue.ErrClosed):
		return &apiError{status: http.StatusServiceUnavailable, typ: "server_error", code: "shutting_down", message: "the server is shutting down"}
	case errors.As(err, &re) && re.Kind == "bad_request":
		return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: "invalid_value", message: re.Error()}
	}
	return &apiError{status: http.StatusInternalServerError, typ: "server_error", code: "internal_error", message: err.Error()}
}

// failedJobError maps a failed job's status to a response.
func failedJobError(st jobqueue.Status) *apiError {
	switch st.ErrorKind {
	case "bad_request":
		return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: "invalid_value", message: st.Error}
	case "not_supported":
		return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: "not_supported", message: st.Error}
	case "timeout":
		return &apiError{status: http.StatusGatewayTimeout, typ: "server_error", code: "timeout", message: st.Error}
	}
	return &apiError{status: http.StatusInternalServerError, typ: "server_error", code: "internal_error", message: st.Error}
}

// retryAfter estimates when a place in the queue frees up.
func (s *Server) retryAfter() time.Duration {
	st := s.opts.Queue.Stats()
	avg := st.AvgRun
	if avg <= 0 {
		avg = time.Second
	}
	return time.Duration(math.Max(1, math.Ceil(avg.Seconds()))) * time.Second
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.retryAfter.Seconds()))))
	}
	if strings.HasPrefix(r.URL.Path, "/sdapi/") {
		writeJSON(w, e.status, map[string]string{
			"error": http.StatusText(e.status), "detail": e.message, "body": "", "errors": e.message,
		})
		return
	}
	body := map[string]any{"message": e.message, "type": e.typ, "param": nil, "code": nil}
	if e.param != "" {
		body["param"] = e.param
	}
	if e.code != "" {
		body["code"] = e.code
	}
	writeJSON(w, e.status, map[string]any{"error": body})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// decodeJSON reads a JSON body into v (whatever the Content-Type says:
// curl -d sends a form type), mapping every failure to a 400 (or
// 413 when the body is over the limit the middleware set).
func decodeJSON(r *http.Request, v any) *apiError {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if dec.More() {
		return badRequest("", "the body holds more than one JSON value")
	}
	return nil
}

func bodyError(err error) *apiError {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &apiError{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error", code: "body_too_large",
			message: fmt.Sprintf("request body over %d bytes", tooBig.Limit)}
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return badRequest(typeErr.Field, "field %s: want a %s, got a JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
	}
	return badRequest("", "malformed JSON body: %v", err)
}
