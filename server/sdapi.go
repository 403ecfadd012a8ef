package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imagegen/imagegen/jobqueue"
	"github.com/imagegen/imagegen/schedulers"
)

// sdapiState is what the AUTOMATIC1111 API keeps between requests: the
// selected checkpoint (options) and the job /progress reports on.
type sdapiState struct {
	mu      sync.Mutex
	model   string
	current string // id of the latest txt2img/img2img job
	preview []byte // its latest latent preview (PNG)
}

// sdRequest is the body of /sdapi/v1/txt2img and img2img (the fields
// imagegen uses; others are accepted and ignored).
type sdRequest struct {
	Prompt            string         `json:"prompt"`
	NegativePrompt    string         `json:"negative_prompt"`
	Steps             int            `json:"steps"`
	CFGScale          *float64       `json:"cfg_scale"`
	Width             int            `json:"width"`
	Height            int            `json:"height"`
	Seed              *int64         `json:"seed"`
	SamplerName       string         `json:"sampler_name"`
	SamplerIndex      string         `json:"sampler_index"`
	Scheduler         string         `json:"scheduler"` // the web UI's schedule type ("Karras", "Automatic")
	BatchSize         int            `json:"batch_size"`
	NIter             int            `json:"n_iter"`
	OverrideSettings  map[string]any `json:"override_settings"`
	InitImages        []string       `json:"init_images"`
	Mask              string         `json:"mask"`
	DenoisingStrength float64        `json:"denoising_strength"`
}

func (s *Server) sdTxt2img(w http.ResponseWriter, r *http.Request) { s.sdGenerate(w, r, false) }
func (s *Server) sdImg2img(w http.ResponseWriter, r *http.Request) { s.sdGenerate(w, r, true) }

// decodeB64Image reads a base64 picture, with or without a data: URL
// prefix as the web UI's clients send it.
func decodeB64Image(field, v string) ([]byte, *apiError) {
	if i := strings.Index(v, ";base64,"); i >= 0 && strings.HasPrefix(v, "data:") {
		v = v[i+len(";base64,"):]
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, badRequest(field, "%s: invalid base64: %v", field, err)
	}
	return b, nil
}

func (s *Server) sdGenerate(w http.ResponseWriter, r *http.Request, img2img bool) {
	var q sdRequest
	if err := decodeJSON(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.sdapi.mu.Lock()
	model := s.sdapi.model
	s.sdapi.mu.Unlock()
	if m, ok := q.OverrideSettings["sd_model_checkpoint"].(string); ok && m != "" {
		model = m
	}
	n := max(1, q.BatchSize) * max(1, q.NIter)
	p := genParams{Model: model, Prompt: q.Prompt, NegativePrompt: q.NegativePrompt, Guidance: q.CFGScale, N: &n,
		Scheduler: q.SamplerName, Strength: q.DenoisingStrength}
	if p.Scheduler == "" {
		p.Scheduler = q.SamplerIndex
	}
	if strings.EqualFold(q.Scheduler, "karras") && p.Scheduler != "" && !strings.HasSuffix(p.Scheduler, "Karras") {
		p.Scheduler += " Karras" // "DPM++ 2M" with schedule type Karras is imagegen's "DPM++ 2M Karras"
	}
	if q.Steps > 0 {
		p.Steps = &q.Steps
	}
	if q.Width > 0 || q.Height > 0 {
		if q.Width <= 0 || q.Height <= 0 {
			s.writeError(w, r, badRequest("width", "give both width and height"))
			return
		}
		p.Size = strconv.Itoa(q.Width) + "x" + strconv.Itoa(q.Height)
	}
	if q.Seed != nil && *q.Seed >= 0 { // -1 is the web UI's "random"
		seed := uint64(*q.Seed)
		p.Seed = &seed
	}
	if p.Prompt == "" {
		p.Prompt = " " // the web UI allows an empty prompt
	}
	var image, mask []byte
	if img2img {
		if len(q.InitImages) == 0 {
			s.writeError(w, r, badRequest("init_images", "init_images needs one picture"))
			return
		}
		var aerr *apiError
		if image, aerr = decodeB64Image("init_images", q.InitImages[0]); aerr != nil {
			s.writeError(w, r, aerr)
			return
		}
		if q.Mask != "" {
			if mask, aerr = decodeB64Image("mask", q.Mask); aerr != nil {
				s.writeError(w, r, aerr)
				return
			}
		}
	} else if p.Strength != 0 {
		p.Strength = 0 // txt2img's denoising_strength is for hires fix, which imagegen does not do
	}
	sp, aerr := s.specWithImages(&p, image, mask)
	if aerr != nil {
		s.writeError(w, r, aerr)
		return
	}
	sp.Ephemeral = true // the answer carries the pictures
	st, aerr := s.runSyncTracked(r.Context(), sp)
	if aerr != nil {
		s.writeError(w, r, aerr)
		return
	}
	var images []string
	for _, key := range st.Results {
		img, err := s.opts.Queue.Result(r.Context(), key)
		if err != nil {
			s.writeError(w, r, s.toAPIError(err))
			return
		}
		images = append(images, base64.StdEncoding.EncodeToString(img.Data))
	}
	info := map[string]any{"prompt": sp.Prompt, "negative_prompt": sp.NegativePrompt, "seed": st.Info.Seed,
		"all_seeds": []uint64{st.Info.Seed}, "steps": st.Info.Steps, "cfg_scale": st.Info.Guidance,
		"sampler_name": st.Info.Scheduler, "width": st.Info.Width, "height": st.Info.Height,
		"sd_model_name": sp.Model, "batch_size": n}
	infoJSON, _ := json.Marshal(info)
	writeJSON(w, http.StatusOK, map[string]any{"images": images, "parameters": q, "info": string(infoJSON)})
}

// runSyncTracked is runSync, recording the job for /sdapi/v1/progress.
func (s *Server) runSyncTracked(ctx context.Context, sp jobqueue.Spec) (jobqueue.Status, *apiError) {
	sp.Preview = true // for /sdapi/v1/progress's current_image
	var id string
	return s.runSyncWith(ctx, sp, func(submitted string) {
		id = submitted
		s.sdapi.mu.Lock()
		s.sdapi.current, s.sdapi.preview = id, nil
		s.sdapi.mu.Unlock()
	}, func(e jobqueue.Event) {
		if e.Preview == nil {
			return
		}
		s.sdapi.mu.Lock()
		if s.sdapi.current == id {
			s.sdapi.preview = e.Preview
		}
		s.sdapi.mu.Unlock()
	})
}

// sdProgress serves GET /sdapi/v1/progress for the latest web UI job;
// current_image is a picture of the latents at their resolution (a rough
// preview, like the web UI's cheapest live-preview mode).
func (s *Server) sdProgress(w http.ResponseWriter, r *http.Request) {
	s.sdapi.mu.Lock()
	id, preview := s.sdapi.current, s.sdapi.preview
	s.sdapi.mu.Unlock()
	st := s.opts.Queue.Stats()
	resp := map[string]any{"progress": 0.0, "eta_relative": 0.0, "current_image": nil, "textinfo": nil,
		"state": map[string]any{"skipped": false, "interrupted": false, "job": "", "job_count": st.Waiting + st.Running,
			"job_timestamp": "0", "job_no": 0, "sampling_step": 0, "sampling_steps": 0}}
	if id != "" {
		if js, err := s.opts.Queue.Status(r.Context(), id); err == nil {
			state := resp["state"].(map[string]any)
			state["job"] = js.ID
			state["sampling_step"], state["sampling_steps"] = js.Step, js.Total
			state["interrupted"] = js.State == jobqueue.Cancelled
			switch {
			case js.State.Final():
				resp["progress"] = 0.0 // the web UI reports 0 when idle
			case js.Total > 0:
				if preview != nil {
					resp["current_image"] = base64.StdEncoding.EncodeToString(preview)
				}
				frac := float64(js.Step) / float64(js.Total)
				resp["progress"] = frac
				if frac > 0 && !js.Started.IsZero() {
					elapsed := time.Since(js.Started).Seconds()
					resp["eta_relative"] = elapsed/frac - elapsed
				}
			}
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// sdModels serves GET /sdapi/v1/sd-models.
func (s *Server) sdModels(w http.ResponseWriter, r *http.Request) {
	var out []map[string]any
	for _, m := range s.opts.Models {
		out = append(out, map[string]any{"title": m.Name, "model_name": m.Name, "hash": nil, "sha256": nil,
			"filename": m.Name, "config": nil})
	}
	writeJSON(w, http.StatusOK, out)
}

// sdSamplers serves GET /sdapi/v1/samplers: the friendly names imagegen's
// schedulers answer to.
func (s *Server) sdSamplers(w http.ResponseWriter, r *http.Request) {
	var out []map[string]any
	for _, n := range schedulers.Names() {
		out = append(out, map[string]any{"name": n, "aliases": []string{}, "options": map[string]string{}})
	}
	writeJSON(w, http.StatusOK, out)
}

// sdGetOptions serves GET /sdapi/v1/options (the selected checkpoint).
func (s *Server) sdGetOptions(w http.ResponseWriter, r *http.Request) {
	s.sdapi.mu.Lock()
	model := s.sdapi.model
	s.sdapi.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"sd_model_checkpoint": model})
}

// sdSetOptions serves POST /sdapi/v1/options; only sd_model_checkpoint
// is honoured, and it must name a model of this server.
func (s *Server) sdSetOptions(w http.ResponseWriter, r *http.Request) {
	var q map[string]any
	if err := decodeJSON(r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if v, ok := q["sd_model_checkpoint"]; ok {
		name, _ := v.(string)
		if _, known := s.models[name]; !known {
			s.writeError(w, r, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found",
				message: "no model " + name + " (GET /sdapi/v1/sd-models lists them)"})
			return
		}
		s.sdapi.mu.Lock()
		s.sdapi.model = name
		s.sdapi.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, nil)
}
