package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagegen/imagegen/engine"
	"github.com/imagegen/imagegen/jobqueue"
)

// fakeRunner draws a flat picture after steps of stepTime, honouring ctx
// between steps as the pipeline does between model calls.
type fakeRunner struct {
	steps    int
	stepTime time.Duration
	runs     atomic.Int32
}

func (f *fakeRunner) run(ctx context.Context, s jobqueue.Spec, progress func(jobqueue.Step)) (*jobqueue.Output, error) {
	f.runs.Add(1)
	steps := f.steps
	if s.Steps > 0 {
		steps = s.Steps
	}
	for i := 1; i <= steps; i++ {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(f.stepTime):
		}
		st := jobqueue.Step{Step: i, Total: steps}
		if s.Preview {
			st.Preview = pngBytes(2, 2)
		}
		progress(st)
	}
	w, h := max(s.Width, 8), max(s.Height, 8)
	out := &jobqueue.Output{Info: jobqueue.Info{Model: s.Model, Width: w, Height: h, Steps: steps, Seed: s.Seed}}
	for range max(1, s.N) {
		out.Images = append(out.Images, jobqueue.Image{ContentType: "image/png", Data: pngBytes(w, h)})
	}
	return out, nil
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func pngBytes(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

// hugePNGHeader is a PNG whose header claims 100000x100000 pixels and
// that holds no pixel data.
func hugePNGHeader() []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 100000)
	binary.BigEndian.PutUint32(ihdr[4:], 100000)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

type testServer struct {
	*httptest.Server
	srv    *Server
	queue  *jobqueue.Memory
	runner *fakeRunner
	key    string
}

func newTestServer(t *testing.T, runner *fakeRunner, opts Options, qopts jobqueue.MemoryOptions) *testServer {
	t.Helper()
	q := jobqueue.NewMemory(runner.run, qopts)
	opts.Queue = q
	opts.Models = []ModelInfo{{Name: "default", Family: "sd1"}, {Name: "other"}}
	opts.Check = engine.New(nil, engine.Limits{}).Check
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		q.Close(ctx)
	})
	return &testServer{Server: ts, srv: srv, queue: q, runner: runner, key: opts.APIKey}
}

func (ts *testServer) do(t *testing.T, method, path, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if ts.key != "" {
		req.Header.Set("Authorization", "Bearer "+ts.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func (ts *testServer) postJSON(t *testing.T, path string, v any) (*http.Response, []byte) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return ts.do(t, "POST", path, "application/json", b)
}

func TestGenerations(t *testing.T) {
	ts := newTestServer(t, &fakeRunner{steps: 2, stepTime: time.Millisecond}, Options{}, jobqueue.MemoryOptions{})
	for _, format := range []string{"b64_json", "url"} {
		t.Run(format, func(t *testing.T) {
			resp, body := ts.postJSON(t, "/v1/images/generations", map[string]any{
				"model": "default", "prompt": "a red circle", "n": 2, "size": "16x24", "response_format": format, "seed": 7,
			})
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var got imagesResponse
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Data) != 2 || got.Info.Seed != 7 || got.Size != "16x24" {
				t.Fatalf("got %d images, seed %d, size %s; want 2, 7, 16x24", len(got.Data), got.Info.Seed, got.Size)
			}
			var pic []byte
			if format == "url" {
				if !strings.HasPrefix(got.Data[0].URL, ts.URL+"/v1/results/") {
					t.Fatalf("url %q", got.Data[0].URL)
				}
				r, err := http.Get(got.Data[0].URL) // no key needed: the URL is the credential
				if err != nil {
					t.Fatal(err)
				}
				pic, _ = io.ReadAll(r.Body)
				r.Body.Close()
			} else {
				pic, _ = base64.StdEncoding.DecodeString(got.Data[0].B64JSON)
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(pic))
			if err != nil || cfg.Width != 16 || cfg.Height != 24 {
				t.Fatalf("picture: %v, %dx%d; want a 16x24 PNG", err, cfg.Width, cfg.Height)
			}
		})
	}
}

func editBody(t *testing.T, fields map[string]string, files map[string][]byte) (string, []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for k, v := range files {
		fw, err := mw.CreateFormFile(k, k+".png")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(v)
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// TestBadInput sends hostile and malformed requests: each must get a 4xx
// in the API's error shape, and the server must keep serving.
func TestBadInput(t *testing.T) {
	ts := newTestServer(t, &fakeRunner{steps: 1, stepTime: time.Millisecond}, Options{APIKey: "sekrit", MaxBodyBytes: 4 << 20}, jobqueue.MemoryOptions{})
	huge := hugePNGHeader()
	editCT, editHuge := editBody(t, map[string]string{"prompt": "x"}, map[string][]byte{"image": huge})
	_, editNoImage := editBody(t, map[string]string{"prompt": "x"}, nil)
	cases := []struct {
		name, method, path, ct, key string
		body                        []byte
		want                        int
	}{
		{"malformed JSON", "POST", "/v1/images/generations", "application/json", "", []byte(`{"prompt": "x"`), 400},
		{"wrong type", "POST", "/v1/images/generations", "application/json", "", []byte(`{"prompt": 5}`), 400},
		{"unknown model", "POST", "/v1/images/generations", "application/json", "", []byte(`{"prompt": "x", "model": "nope"}`), 404},
		{"path as model", "POST", "/v1/images/generations", "application/json", "", []byte(`{"prompt": "x", "model": "/etc"}`), 404},
		{"bad size", "POST", "/v1/images/generations", "application/json", "", []byte(`{"prompt": "x", "size": "12by9"}`), 400},
		{"size over limit", "POST", "/v1/images/generations", "application/json", "", []byte(`{"prompt": "x", "size": "100000x100000"}`), 400},
		{"n=1000", "POST", "/v1/images/generations", "application/json", "", []byte(`{"prompt": "x", "n": 1000}`), 400},
		{"1 MB prompt", "POST", "/v1/images/generations", "application/json", "", []byte(`{"prompt": "` + strings.Repeat("a", 1<<20) + `"}`), 400},
		{"body over limit", "POST", "/v1/images/generations", "application/json", "", []byte(`{"prompt": "` + strings.Repeat("a", 5<<20) + `"}`), 413},
		{"no prompt", "POST", "/v1/images/generations", "application/json", "", []byte(`{}`), 400},
		{"bad response_format", "POST", "/v1/images/generations", "application/json", "", []byte(`{"prompt": "x", "response_format": "gif"}`), 400},
		{"wrong API key", "POST", "/v1/images/generations", "application/json", "nope", []byte(`{"prompt": "x"}`), 401},
		{"huge image header (edits)", "POST", "/v1/images/edits", editCT, "", editHuge, 400},
		{"edit without image", "POST", "/v1/images/edits", editCT, "", editNoImage, 400},
		{"huge image header (img2img)", "POST", "/sdapi/v1/img2img", "application/json", "",
			[]byte(`{"prompt": "x", "init_images": ["` + base64.StdEncoding.EncodeToString(huge) + `"]}`), 400},
		{"invalid base64", "POST", "/sdapi/v1/img2img", "application/json", "", []byte(`{"prompt": "x", "init_images": ["%%%not base64"]}`), 400},
		{"jobs: huge image header", "POST", "/v1/jobs", "application/json", "",
			[]byte(`{"prompt": "x", "image": "` + base64.StdEncoding.EncodeToString(huge) + `"}`), 400},
		{"jobs: invalid base64 image", "POST", "/v1/jobs", "application/json", "", []byte(`{"prompt": "x", "image": "@@@"}`), 400},
		{"jobs: unknown model", "POST", "/v1/jobs", "application/json", "", []byte(`{"prompt": "x", "model": "nope"}`), 404},
		{"unknown job", "GET", "/v1/jobs/nope", "", "", nil, 404},
		{"unknown result", "GET", "/v1/results/nope", "", "", nil, 404},
		{"unknown route", "GET", "/v2/whatever", "", "", nil, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, ts.URL+tc.path, bytes.NewReader(tc.body))
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			key := ts.key
			if tc.key != "" {
				key = tc.key
			}
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
			}
			var shape map[string]any
			if err := json.Unmarshal(body, &shape); err != nil {
				t.Fatalf("error body is not JSON: %q", body)
			}
			if strings.HasPrefix(tc.path, "/sdapi/") {
				if _, ok := shape["detail"].(string); !ok {
					t.Fatalf("AUTOMATIC1111 error without detail: %s", body)
				}
			} else if e, ok := shape["error"].(map[string]any); !ok || e["message"] == "" || e["type"] == "" {
				t.Fatalf("OpenAI error shape wanted, got %s", body)
			}
		})
	}
	// Still serving.
	resp, body := ts.postJSON(t, "/v1/images/generations", map[string]any{"prompt": "a red circle"})
	if resp.StatusCode != 200 {
		t.Fatalf("after bad input: status %d: %s", resp.StatusCode, body)
	}
}

func TestAuth(t *testing.T) {
	ts := newTestServer(t, &fakeRunner{steps: 1, stepTime: time.Millisecond}, Options{APIKey: "k"}, jobqueue.MemoryOptions{})
	for _, tc := range []struct {
		path, key string
		want      int
	}{
		{"/healthz", "", 200},
		{"/readyz", "", 200},
		{"/", "", 200},
		{"/v1/models", "", 401},
		{"/v1/models", "wrong", 401},
		{"/v1/models", "k", 200},
		{"/metrics", "", 401},
		{"/metrics", "k", 200},
		{"/sdapi/v1/sd-models", "", 401},
	} {
		req, _ := http.NewRequest("GET", ts.URL+tc.path, nil)
		if tc.key != "" {
			req.Header.Set("Authorization", "Bearer "+tc.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s with key %q: status %d, want %d", tc.path, tc.key, resp.StatusCode, tc.want)
		}
	}
}

func TestQueueFull(t *testing.T) {
	runner := &fakeRunner{steps: 1000, stepTime: 10 * time.Millisecond}
	ts := newTestServer(t, runner, Options{}, jobqueue.MemoryOptions{MaxWaiting: 2, Workers: 1})
	var ids []string
	for i := range 3 { // one runs, two wait
		resp, body := ts.postJSON(t, "/v1/jobs", map[string]any{"prompt": "x"})
		if resp.StatusCode != 202 {
			t.Fatalf("job %d: status %d: %s", i, resp.StatusCode, body)
		}
		var v jobView
		json.Unmarshal(body, &v)
		ids = append(ids, v.ID)
		if i == 0 {
			waitState(t, ts, v.ID, jobqueue.Running)
		}
	}
	resp, body := ts.postJSON(t, "/v1/images/generations", map[string]any{"prompt": "x"})
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("full queue: status %d, Retry-After %q: %s; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, _ = ts.do(t, "GET", "/readyz", "", nil)
	if resp.StatusCode != 503 {
		t.Fatalf("readyz with a full queue: %d, want 503", resp.StatusCode)
	}
	for _, id := range ids {
		ts.do(t, "DELETE", "/v1/jobs/"+id, "", nil)
	}
}

func waitState(t *testing.T, ts *testServer, id string, want jobqueue.State) jobView {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body := ts.do(t, "GET", "/v1/jobs/"+id, "", nil)
		var v jobView
		json.Unmarshal(body, &v)
		if v.State == want {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: state %s after 5s, want %s", id, v.State, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sseEvents reads a server-sent event stream to its end.
func sseEvents(t *testing.T, r io.Reader) (types []string, datas []string) {
	t.Helper()
	for _, block := range strings.Split(readAll(t, r), "\n\n") {
		var typ, data string
		for _, line := range strings.Split(block, "\n") {
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				typ = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				data = v
			}
		}
		if typ != "" {
			types, datas = append(types, typ), append(datas, data)
		}
	}
	return types, datas
}

func readAll(t *testing.T, r io.Reader) string {
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestJobLifecycle(t *testing.T) {
	ts := newTestServer(t, &fakeRunner{steps: 5, stepTime: 40 * time.Millisecond}, Options{}, jobqueue.MemoryOptions{})
	resp, body := ts.postJSON(t, "/v1/jobs", map[string]any{"prompt": "a star", "preview": true, "n": 2})
	if resp.StatusCode != 202 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var v jobView
	json.Unmarshal(body, &v)
	if loc := resp.Header.Get("Location"); loc != "/v1/jobs/"+v.ID || len(v.ID) < 20 {
		t.Fatalf("Location %q, id %q", loc, v.ID)
	}
	ev, err := http.Get(ts.URL + "/v1/jobs/" + v.ID + "/events")
	if err != nil {
		t.Fatal(err)
	}
	if ct := ev.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("events content type %q", ct)
	}
	types, datas := sseEvents(t, ev.Body)
	ev.Body.Close()
	// Previews come with the steps of a running job (a finished job's
	// history drops them, so a late reader may miss the last ones).
	steps, previews := 0, 0
	for i, typ := range types {
		if typ == "step" {
			steps++
			var se stepEvent
			json.Unmarshal([]byte(datas[i]), &se)
			if se.Step != steps {
				t.Fatalf("step event %d: %s", steps, datas[i])
			}
			if strings.HasPrefix(se.Preview, "data:image/png;base64,") {
				previews++
			}
		}
	}
	if previews == 0 {
		t.Fatal("no step event carried a preview")
	}
	if steps != 5 || types[len(types)-1] != "status" {
		t.Fatalf("events %v: want 5 steps and a final status", types)
	}
	var final jobView
	json.Unmarshal([]byte(datas[len(datas)-1]), &final)
	if final.State != jobqueue.Succeeded || len(final.Results) != 2 {
		t.Fatalf("final event: %s", datas[len(datas)-1])
	}
	r, err := http.Get(final.Results[1].URL)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("result: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
}

func TestJobCancel(t *testing.T) {
	runner := &fakeRunner{steps: 10000, stepTime: 5 * time.Millisecond}
	ts := newTestServer(t, runner, Options{}, jobqueue.MemoryOptions{})
	_, body := ts.postJSON(t, "/v1/jobs", map[string]any{"prompt": "x"})
	var v jobView
	json.Unmarshal(body, &v)
	waitState(t, ts, v.ID, jobqueue.Running)
	start := time.Now()
	resp, body := ts.do(t, "DELETE", "/v1/jobs/"+v.ID, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, body)
	}
	waitState(t, ts, v.ID, jobqueue.Cancelled)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("cancel took %v", d)
	}
	// The queue moves on.
	resp, body = ts.postJSON(t, "/v1/images/generations", map[string]any{"prompt": "x", "steps": 1})
	if resp.StatusCode != 200 {
		t.Fatalf("after cancel: %d %s", resp.StatusCode, body)
	}
}

func TestRequestTimeout(t *testing.T) {
	runner := &fakeRunner{steps: 10000, stepTime: 5 * time.Millisecond}
	ts := newTestServer(t, runner, Options{RequestTimeout: 100 * time.Millisecond}, jobqueue.MemoryOptions{})
	resp, body := ts.postJSON(t, "/v1/images/generations", map[string]any{"prompt": "x"})
	if resp.StatusCode != 504 {
		t.Fatalf("status %d, want 504: %s", resp.StatusCode, body)
	}
	// The job was cancelled with the request.
	deadline := time.Now().Add(2 * time.Second)
	for st := ts.queue.Stats(); st.Running+st.Waiting > 0; st = ts.queue.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("the timed-out job still runs: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSDAPI(t *testing.T) {
	ts := newTestServer(t, &fakeRunner{steps: 2, stepTime: time.Millisecond}, Options{}, jobqueue.MemoryOptions{})
	resp, body := ts.postJSON(t, "/sdapi/v1/txt2img", map[string]any{"prompt": "x", "steps": 3, "width": 16, "height": 16, "seed": -1, "batch_size": 2, "sampler_name": "Euler a"})
	if resp.StatusCode != 200 {
		t.Fatalf("txt2img: %d %s", resp.StatusCode, body)
	}
	var got struct {
		Images []string `json:"images"`
		Info   string   `json:"info"`
	}
	json.Unmarshal(body, &got)
	if len(got.Images) != 2 || !strings.Contains(got.Info, `"steps":3`) {
		t.Fatalf("txt2img: %d images, info %s", len(got.Images), got.Info)
	}
	init := base64.StdEncoding.EncodeToString(pngBytes(16, 16))
	resp, body = ts.postJSON(t, "/sdapi/v1/img2img", map[string]any{"prompt": "x", "init_images": []string{"data:image/png;base64," + init}, "denoising_strength": 0.5})
	if resp.StatusCode != 200 {
		t.Fatalf("img2img: %d %s", resp.StatusCode, body)
	}
	for _, path := range []string{"/sdapi/v1/sd-models", "/sdapi/v1/samplers", "/sdapi/v1/options", "/sdapi/v1/progress"} {
		resp, body := ts.do(t, "GET", path, "", nil)
		if resp.StatusCode != 200 || !json.Valid(body) {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	resp, body = ts.postJSON(t, "/sdapi/v1/options", map[string]any{"sd_model_checkpoint": "other"})
	if resp.StatusCode != 200 {
		t.Fatalf("set options: %d %s", resp.StatusCode, body)
	}
	_, body = ts.do(t, "GET", "/sdapi/v1/options", "", nil)
	if !strings.Contains(string(body), `"other"`) {
		t.Fatalf("options after setting: %s", body)
	}
	resp, _ = ts.postJSON(t, "/sdapi/v1/options", map[string]any{"sd_model_checkpoint": "/etc/passwd"})
	if resp.StatusCode != 404 {
		t.Fatalf("set an unknown checkpoint: %d, want 404", resp.StatusCode)
	}
}

func TestEdits(t *testing.T) {
	ts := newTestServer(t, &fakeRunner{steps: 1, stepTime: time.Millisecond}, Options{}, jobqueue.MemoryOptions{})
	mask := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	mask.Set(3, 3, color.NRGBA{255, 255, 255, 255}) // the rest is transparent: repaint
	var mb bytes.Buffer
	png.Encode(&mb, mask)
	ct, body := editBody(t, map[string]string{"prompt": "x", "n": "2", "seed": "5", "strength": "0.7"},
		map[string][]byte{"image": pngBytes(16, 16), "mask": mb.Bytes()})
	resp, out := ts.do(t, "POST", "/v1/images/edits", ct, body)
	if resp.StatusCode != 200 {
		t.Fatalf("edits: %d %s", resp.StatusCode, out)
	}
	var got imagesResponse
	json.Unmarshal(out, &got)
	if len(got.Data) != 2 || got.Info.Seed != 5 {
		t.Fatalf("edits: %s", out)
	}
}

func TestMetricsAndRequestID(t *testing.T) {
	ts := newTestServer(t, &fakeRunner{steps: 1, stepTime: time.Millisecond}, Options{}, jobqueue.MemoryOptions{})
	req, _ := http.NewRequest("GET", ts.URL+"/v1/models", nil)
	req.Header.Set("X-Request-ID", "abc-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-ID"); got != "abc-123" {
		t.Fatalf("X-Request-ID %q, want the client's", got)
	}
	ts.postJSON(t, "/v1/images/generations", map[string]any{"prompt": "x"})
	_, body := ts.do(t, "GET", "/metrics", "", nil)
	for _, want := range []string{`imagegen_http_requests_total{code="200",route="GET /v1/models"} 1`, "imagegen_queue_waiting 0", "go_goroutines",
		"imagegen_sync_job_run_seconds_count 1", `imagegen_sync_jobs_finished_total{state="succeeded"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestGracefulShutdown(t *testing.T) {
	runner := &fakeRunner{steps: 20, stepTime: 10 * time.Millisecond}
	q := jobqueue.NewMemory(runner.run, jobqueue.MemoryOptions{})
	defer q.Close(context.Background())
	srv, err := New(Options{Queue: q, Models: []ModelInfo{{Name: "m"}}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, 5*time.Second) }()
	url := fmt.Sprintf("http://%s/v1/images/generations", ln.Addr())
	done := make(chan int, 1)
	go func() {
		resp, err := http.Post(url, "application/json", strings.NewReader(`{"prompt": "x"}`))
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	for deadline := time.Now().Add(5 * time.Second); q.Stats().Running == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the request never started running")
		}
		time.Sleep(2 * time.Millisecond)
	}
	stop()
	if code := <-done; code != 200 {
		t.Fatalf("request in flight during shutdown: status %d, want 200", code)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get(fmt.Sprintf("http://%s/healthz", ln.Addr())); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}

// TestBodyReadTimeout checks that a client who stalls in the middle of its
// body is cut off, while a request whose body arrived may run longer than
// the body timeout.
func TestBodyReadTimeout(t *testing.T) {
	runner := &fakeRunner{steps: 10, stepTime: 30 * time.Millisecond}
	ts := newTestServer(t, runner, Options{BodyReadTimeout: 100 * time.Millisecond}, jobqueue.MemoryOptions{})
	resp, body := ts.postJSON(t, "/v1/images/generations", map[string]any{"prompt": "x"})
	if resp.StatusCode != 200 {
		t.Fatalf("a 300 ms generation under a 100 ms body timeout: %d %s", resp.StatusCode, body)
	}
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"prompt\": ")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	reply, _ := io.ReadAll(conn)
	if time.Since(start) > 3*time.Second {
		t.Fatalf("a stalled upload held the connection for %v", time.Since(start))
	}
	if !strings.Contains(string(reply), "400") && len(reply) != 0 {
		t.Fatalf("stalled upload: got %q", reply)
	}
}

// TestSDAPIProgress polls /sdapi/v1/progress while a txt2img request runs:
// the fraction grows and a preview comes with it.
func TestSDAPIProgress(t *testing.T) {
	ts := newTestServer(t, &fakeRunner{steps: 30, stepTime: 20 * time.Millisecond}, Options{}, jobqueue.MemoryOptions{})
	done := make(chan int, 1)
	go func() {
		b, _ := json.Marshal(map[string]any{"prompt": "x"})
		resp, err := http.Post(ts.URL+"/sdapi/v1/txt2img", "application/json", bytes.NewReader(b))
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body := ts.do(t, "GET", "/sdapi/v1/progress", "", nil)
		var p struct {
			Progress     float64 `json:"progress"`
			CurrentImage *string `json:"current_image"`
		}
		json.Unmarshal(body, &p)
		if p.Progress > 0 && p.CurrentImage != nil {
			if _, err := base64.StdEncoding.DecodeString(*p.CurrentImage); err != nil {
				t.Fatalf("current_image: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress with a preview seen: %s", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code := <-done; code != 200 {
		t.Fatalf("txt2img: %d", code)
	}
}
