package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/imagegen/imagegen/jobqueue"
)

// jobResult is one picture of a finished job.
type jobResult struct {
	URL string `json:"url"`
}

// jobView is a job as the jobs API shows it.
type jobView struct {
	Object string `json:"object"`
	jobqueue.Status
	URL     string      `json:"url"`
	Results []jobResult `json:"results,omitempty"`
}

func (s *Server) view(r *http.Request, st jobqueue.Status) jobView {
	v := jobView{Object: "job", Status: st, URL: "/v1/jobs/" + st.ID}
	for _, key := range st.Results {
		v.Results = append(v.Results, jobResult{URL: s.resultURL(r, key)})
	}
	return v
}

// createJob serves POST /v1/jobs: the body of /v1/images/generations
// (plus "preview"), answered at once with 202 and the job's URL.
func (s *Server) createJob(w http.ResponseWriter, r *http.Request) {
	var p genParams
	if err := decodeJSON(r, &p); err != nil {
		s.writeError(w, r, err)
		return
	}
	sp, aerr := s.spec(&p)
	if aerr != nil {
		s.writeError(w, r, aerr)
		return
	}
	id, err := s.opts.Queue.Submit(r.Context(), sp)
	if err != nil {
		s.writeError(w, r, s.toAPIError(err))
		return
	}
	st, err := s.opts.Queue.Status(r.Context(), id)
	if err != nil {
		s.writeError(w, r, s.toAPIError(err))
		return
	}
	s.opts.Logger.Info("job submitted", "request_id", requestID(r.Context()), "job", id, "model", sp.Model)
	w.Header().Set("Location", "/v1/jobs/"+id)
	writeJSON(w, http.StatusAccepted, s.view(r, st))
}

// getJob serves GET /v1/jobs/{id}.
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	st, err := s.opts.Queue.Status(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, s.toAPIError(err))
		return
	}
	writeJSON(w, http.StatusOK, s.view(r, st))
}

// cancelJob serves DELETE /v1/jobs/{id}: a queued job never runs, a
// running one stops within one model call. The answer is the job's status
// after the request (a running job may still show "running" for that
// call's length).
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.opts.Queue.Cancel(r.Context(), id); err != nil {
		s.writeError(w, r, s.toAPIError(err))
		return
	}
	st, err := s.opts.Queue.Status(r.Context(), id)
	if err != nil {
		s.writeError(w, r, s.toAPIError(err))
		return
	}
	writeJSON(w, http.StatusOK, s.view(r, st))
}

// stepEvent is the data of a "step" event.
type stepEvent struct {
	ID      string `json:"id"`
	Step    int    `json:"step"`
	Total   int    `json:"total_steps"`
	Preview string `json:"preview,omitempty"` // data: URL of a PNG
}

// jobEvents serves GET /v1/jobs/{id}/events as server-sent events: the
// job's history first, then one "step" event per denoising step and a
// "status" event on every state change; the stream ends after the final
// status. Comment lines keep idle connections alive.
func (s *Server) jobEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		s.writeError(w, r, &apiError{status: http.StatusInternalServerError, typ: "server_error", message: "streaming unsupported"})
		return
	}
	events, err := s.opts.Queue.Events(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, s.toAPIError(err))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-r.Context().Done():
			return
		case <-keepAlive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			flusher.Flush()
		case e, ok := <-events:
			if !ok {
				return
			}
			var data any
			if e.Type == "step" {
				se := stepEvent{ID: e.Status.ID, Step: e.Status.Step, Total: e.Status.Total}
				if e.Preview != nil {
					se.Preview = "data:image/png;base64," + base64.StdEncoding.EncodeToString(e.Preview)
				}
				data = se
			} else {
				data = s.view(r, e.Status)
			}
			b, _ := json.Marshal(data)
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Type, b)
			flusher.Flush()
		}
	}
}

// getResult serves a stored picture. Its key is unguessable, so the URL
// itself is the credential and works in an <img> tag.
func (s *Server) getResult(w http.ResponseWriter, r *http.Request) {
	img, err := s.opts.Queue.Result(r.Context(), r.PathValue("key"))
	if err != nil {
		s.writeError(w, r, s.toAPIError(err))
		return
	}
	w.Header().Set("Content-Type", img.ContentType)
	w.Header().Set("Cache-Control", "private, max-age=3600, immutable")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(img.Data)
}
