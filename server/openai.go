package server

import (
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/imagegen/imagegen/jobqueue"
)

type imageData struct {
	B64JSON string `json:"b64_json,omitempty"`
	URL     string `json:"url,omitempty"`
}

type imagesResponse struct {
	Created      int64       `json:"created"`
	Data         []imageData `json:"data"`
	OutputFormat string      `json:"output_format,omitempty"`
	Size         string      `json:"size,omitempty"`
	// Imagegen's extension: what was run.
	Info *jobqueue.Info `json:"imagegen,omitempty"`
}

// imagesGenerations serves OpenAI's POST /v1/images/generations.
func (s *Server) imagesGenerations(w http.ResponseWriter, r *http.Request) {
	var p genParams
	if err := decodeJSON(r, &p); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.generateAndRespond(w, r, &p, nil, nil)
}

func (s *Server) generateAndRespond(w http.ResponseWriter, r *http.Request, p *genParams, image, mask []byte) {
	sp, aerr := s.specWithImages(p, image, mask)
	if aerr != nil {
		s.writeError(w, r, aerr)
		return
	}
	sp.Ephemeral = p.ResponseFormat != "url"
	st, aerr := s.runSync(r.Context(), sp)
	if aerr != nil {
		s.writeError(w, r, aerr)
		return
	}
	resp := imagesResponse{Created: time.Now().Unix(), OutputFormat: sp.Format, Info: st.Info}
	if st.Info != nil {
		resp.Size = strconv.Itoa(st.Info.Width) + "x" + strconv.Itoa(st.Info.Height)
	}
	for _, key := range st.Results {
		if p.ResponseFormat == "url" {
			resp.Data = append(resp.Data, imageData{URL: s.resultURL(r, key)})
			continue
		}
		img, err := s.opts.Queue.Result(r.Context(), key)
		if err != nil {
			s.writeError(w, r, s.toAPIError(err))
			return
		}
		resp.Data = append(resp.Data, imageData{B64JSON: base64.StdEncoding.EncodeToString(img.Data)})
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) specWithImages(p *genParams, image, mask []byte) (jobqueue.Spec, *apiError) {
	sp, aerr := s.spec(p)
	if aerr != nil {
		return sp, aerr
	}
	if image != nil {
		sp.InitImage, sp.Mask = image, mask
		if err := s.opts.Check(&sp); err != nil {
			return sp, s.toAPIError(err)
		}
	}
	return sp, nil
}

// imagesEdits serves OpenAI's POST /v1/images/edits (multipart form):
// image (or image[]) and optional mask files with the generation fields.
// The mask follows OpenAI's convention: transparent pixels are repainted.
func (s *Server) imagesEdits(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		s.writeError(w, r, bodyError(err))
		return
	}
	defer r.MultipartForm.RemoveAll()
	f := r.MultipartForm
	p := genParams{
		Model: first(f.Value["model"]), Prompt: first(f.Value["prompt"]), Size: first(f.Value["size"]),
		ResponseFormat: first(f.Value["response_format"]), OutputFormat: first(f.Value["output_format"]),
		NegativePrompt: first(f.Value["negative_prompt"]), Scheduler: first(f.Value["scheduler"]),
	}
	if aerr := formNumbers(f.Value, &p); aerr != nil {
		s.writeError(w, r, aerr)
		return
	}
	image, err := readFormFile(r, "image", "image[]")
	if err != nil {
		s.writeError(w, r, bodyError(err))
		return
	}
	if image == nil {
		s.writeError(w, r, badRequest("image", "image is required (a PNG or JPEG file)"))
		return
	}
	mask, err := readFormFile(r, "mask")
	if err != nil {
		s.writeError(w, r, bodyError(err))
		return
	}
	if mask != nil {
		if mask, err = s.openAIMask(mask); err != nil {
			s.writeError(w, r, s.toAPIError(err))
			return
		}
	}
	s.generateAndRespond(w, r, &p, image, mask)
}

// formNumbers parses the numeric form fields of an edit request.
func formNumbers(v map[string][]string, p *genParams) *apiError {
	for _, name := range []string{"n", "seed", "steps", "guidance", "strength"} {
		val := first(v[name])
		if val == "" {
			continue
		}
		var err error
		switch name {
		case "n", "steps":
			var i int
			if i, err = strconv.Atoi(val); err == nil {
				if name == "n" {
					p.N = &i
				} else {
					p.Steps = &i
				}
			}
		case "seed":
			var u uint64
			if u, err = strconv.ParseUint(val, 10, 64); err == nil {
				p.Seed = &u
			}
		case "guidance":
			var g float64
			if g, err = strconv.ParseFloat(val, 64); err == nil {
				p.Guidance = &g
			}
		case "strength":
			p.Strength, err = strconv.ParseFloat(val, 64)
		}
		if err != nil {
			return badRequest(name, "%s %q is not a number", name, val)
		}
	}
	return nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func readFormFile(r *http.Request, names ...string) ([]byte, error) {
	for _, n := range names {
		if fhs := r.MultipartForm.File[n]; len(fhs) > 0 {
			f, err := fhs[0].Open()
			if err != nil {
				return nil, err
			}
			defer f.Close()
			return io.ReadAll(f)
		}
	}
	return nil, nil
}

// listModels serves GET /v1/models.
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
		ModelInfo
		Loaded bool `json:"loaded"`
	}
	loaded := map[string]bool{}
	for _, n := range s.opts.Loaded() {
		loaded[n] = true
	}
	var data []model
	for _, m := range s.opts.Models {
		data = append(data, model{ID: m.Name, Object: "model", OwnedBy: "imagegen", ModelInfo: m, Loaded: loaded[m.Name]})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// getModel serves GET /v1/models/{model}.
func (s *Server) getModel(w http.ResponseWriter, r *http.Request) {
	m, ok := s.models[r.PathValue("model")]
	if !ok {
		s.writeError(w, r, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found",
			message: "no model " + strconv.Quote(r.PathValue("model"))})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": m.Name, "object": "model", "owned_by": "imagegen", "family": m.Family, "description": m.Description})
}
