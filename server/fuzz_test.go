package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/imagegen/imagegen/jobqueue"
)

// FuzzJSONEndpoints sends arbitrary bodies to the JSON endpoints: the
// answer must never be a server error and must be JSON in the API's shape.
func FuzzJSONEndpoints(f *testing.F) {
	for _, seed := range []string{
		`{"prompt": "a red circle", "n": 2, "size": "16x16", "steps": 1}`,
		`{"prompt": "x", "size": "0x-1"}`,
		`{"prompt": "x", "n": 99999999999999999999}`,
		`{"prompt": "x", "guidance": 1e400}`,
		`{"prompt": "x", "seed": -5}`,
		`{"prompt": "x", "init_images": ["` + base64.StdEncoding.EncodeToString(hugePNGHeader()) + `"]}`,
		`{"prompt": "x", "init_images": ["data:image/png;base64,AAAA"], "mask": "!!"}`,
		`[1, 2, 3]`, `null`, `{"prompt": {"a": 1}}`, "\x00\xff",
	} {
		for path := range 4 {
			f.Add(uint8(path), []byte(seed))
		}
	}
	runner := &fakeRunner{steps: 1}
	q := jobqueue.NewMemory(runner.run, jobqueue.MemoryOptions{MaxWaiting: 1000})
	srv, err := New(Options{Queue: q, Models: []ModelInfo{{Name: "default"}}, Logger: discard(),
		Check: nil, RequestTimeout: 5 * time.Second})
	if err != nil {
		f.Fatal(err)
	}
	paths := []string{"/v1/images/generations", "/v1/jobs", "/sdapi/v1/txt2img", "/sdapi/v1/img2img"}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest("POST", path, bytes.NewReader(body)))
		if rec.Code >= 500 {
			t.Fatalf("%s %q: status %d: %s", path, body, rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %q: answer is not JSON: %q", path, body, rec.Body)
		}
	})
}
