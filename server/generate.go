package server

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/imagegen/imagegen/jobqueue"
)

// genParams are the generation parameters shared by the OpenAI-style
// endpoints and the jobs API: OpenAI's fields plus imagegen's extensions.
// Unknown OpenAI fields (quality, style, user, ...) are accepted and
// ignored.
type genParams struct {
	Model          string   `json:"model"`
	Prompt         string   `json:"prompt"`
	N              *int     `json:"n"`
	Size           string   `json:"size"`
	ResponseFormat string   `json:"response_format"`
	OutputFormat   string   `json:"output_format"`
	Seed           *uint64  `json:"seed"`
	Steps          *int     `json:"steps"`
	Guidance       *float64 `json:"guidance"`
	NegativePrompt string   `json:"negative_prompt"`
	Scheduler      string   `json:"scheduler"`
	Strength       float64  `json:"strength"`
	// Preview asks the jobs API for latent previews in step events.
	Preview bool `json:"preview"`
	// Image and Mask (base64 or data: URLs) make a JSON request img2img
	// or inpainting (white mask pixels are repainted), for the jobs API.
	Image string `json:"image"`
	Mask  string `json:"mask"`
}

// parseSize reads "WxH"; "" and "auto" mean the model's default (0, 0).
func parseSize(s string) (w, h int, err error) {
	if s == "" || s == "auto" {
		return 0, 0, nil
	}
	ws, hs, ok := strings.Cut(s, "x")
	if ok {
		w, err = strconv.Atoi(ws)
		if err == nil {
			h, err = strconv.Atoi(hs)
		}
	}
	if !ok || err != nil || w <= 0 || h <= 0 {
		return 0, 0, badRequest("size", "size %q: want WIDTHxHEIGHT (for example 512x512) or auto", s)
	}
	return w, h, nil
}

// randomSeed picks a seed for a request that gives none, as the OpenAI
// API gives a new picture per call; the seed used is reported back.
func randomSeed() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:]) >> 1 // fits int64 for clients that parse it so
}

// spec turns parameters into a job spec, checking what the server can
// check without a model.
func (s *Server) spec(p *genParams) (jobqueue.Spec, *apiError) {
	sp := jobqueue.Spec{
		Model: p.Model, Prompt: p.Prompt, NegativePrompt: p.NegativePrompt, Scheduler: p.Scheduler,
		Guidance: p.Guidance, Strength: p.Strength, Format: p.OutputFormat, Preview: p.Preview, N: 1,
	}
	if sp.Model == "" {
		sp.Model = s.opts.DefaultModel
	}
	if _, ok := s.models[sp.Model]; !ok {
		return sp, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found", param: "model",
			message: "the model " + strconv.Quote(sp.Model) + " does not exist on this server (GET /v1/models lists them)"}
	}
	if p.Prompt == "" {
		return sp, badRequest("prompt", "prompt is required")
	}
	if p.N != nil {
		sp.N = *p.N
		if sp.N < 1 || sp.N > 10 {
			return sp, badRequest("n", "n must be in 1..10, got %d", sp.N)
		}
	}
	var err error
	if sp.Width, sp.Height, err = parseSize(p.Size); err != nil {
		return sp, err.(*apiError)
	}
	if p.Steps != nil {
		if *p.Steps < 1 {
			return sp, badRequest("steps", "steps must be at least 1, got %d", *p.Steps)
		}
		sp.Steps = *p.Steps
	}
	switch p.OutputFormat {
	case "", "png":
		sp.Format = "png"
	case "jpeg", "jpg":
		sp.Format = "jpeg"
	default:
		return sp, badRequest("output_format", "output_format %q: want png or jpeg", p.OutputFormat)
	}
	switch p.ResponseFormat {
	case "", "b64_json", "url":
	default:
		return sp, badRequest("response_format", "response_format %q: want b64_json or url", p.ResponseFormat)
	}
	if p.Seed != nil {
		sp.Seed = *p.Seed
	} else {
		sp.Seed = randomSeed()
	}
	if p.Image != "" {
		var aerr *apiError
		if sp.InitImage, aerr = decodeB64Image("image", p.Image); aerr != nil {
			return sp, aerr
		}
	}
	if p.Mask != "" {
		var aerr *apiError
		if sp.Mask, aerr = decodeB64Image("mask", p.Mask); aerr != nil {
			return sp, aerr
		}
	}
	if err := s.opts.Check(&sp); err != nil {
		return sp, s.toAPIError(err)
	}
	return sp, nil
}

// runSync submits a job and waits for it within the request's deadline,
// cancelling it when the client goes away or the deadline passes.
func (s *Server) runSync(ctx context.Context, sp jobqueue.Spec) (jobqueue.Status, *apiError) {
	return s.runSyncWith(ctx, sp, nil, nil)
}

// runSyncWith is runSync, telling submitted the job's id and onEvent its
// events (either may be nil).
func (s *Server) runSyncWith(ctx context.Context, sp jobqueue.Spec, submitted func(id string), onEvent func(jobqueue.Event)) (jobqueue.Status, *apiError) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	sp.Timeout = s.opts.RequestTimeout
	id, err := s.opts.Queue.Submit(ctx, sp)
	if err != nil {
		return jobqueue.Status{}, s.toAPIError(err)
	}
	s.opts.Logger.Info("job submitted", "request_id", requestID(ctx), "job", id, "model", sp.Model)
	if submitted != nil {
		submitted(id)
	}
	st, err := jobqueue.WaitFunc(ctx, s.opts.Queue, id, onEvent)
	if err != nil || !st.State.Final() {
		s.opts.Queue.Cancel(context.WithoutCancel(ctx), id)
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return st, &apiError{status: http.StatusGatewayTimeout, typ: "server_error", code: "timeout",
				message: "the request took longer than the server's limit of " + s.opts.RequestTimeout.String()}
		}
		// The client went away; nobody reads this answer.
		return st, &apiError{status: 499, typ: "server_error", code: "cancelled", message: "request cancelled"}
	}
	s.metrics.jobs.WithLabelValues(string(st.State)).Inc()
	if !st.Started.IsZero() {
		s.metrics.wait.Observe(st.Started.Sub(st.Created).Seconds())
		s.metrics.run.Observe(st.Ended.Sub(st.Started).Seconds())
	}
	switch st.State {
	case jobqueue.Succeeded:
		return st, nil
	case jobqueue.Cancelled:
		return st, &apiError{status: http.StatusConflict, typ: "server_error", code: "cancelled", message: "the job was cancelled"}
	}
	return st, failedJobError(st)
}

// resultURL is the absolute URL of a stored picture: under PublicURL when
// set, else on the host the request came to.
func (s *Server) resultURL(r *http.Request, key string) string {
	if s.opts.PublicURL != "" {
		return strings.TrimRight(s.opts.PublicURL, "/") + "/v1/results/" + key
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/v1/results/" + key
}
