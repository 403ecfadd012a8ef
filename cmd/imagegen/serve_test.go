package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/imagegen/imagegen/internal/testort"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startCLI runs an imagegen command until the test ends.
func startCLI(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- newApp().RunContext(ctx, append([]string{"imagegen", "--quiet", "--ort-lib", testort.LibPath()}, args...))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("imagegen %s: %v", args[0], err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("imagegen %s did not stop", args[0])
		}
	})
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server at %s never became healthy: %v", base, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func postGeneration(t *testing.T, base, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/images/generations", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func checkServe(t *testing.T, base string) {
	t.Helper()
	waitHealthy(t, base)
	code, body := postGeneration(t, base, `{"model": "default", "prompt": "a red circle", "steps": 2, "seed": 1}`)
	if code != 200 {
		t.Fatalf("generation: %d %s", code, body)
	}
	var r struct {
		Data []struct {
			B64 string `json:"b64_json"`
		} `json:"data"`
		Info struct{ Width, Seed int } `json:"imagegen"`
	}
	// 128: the built-in model's 32x32 enlarged by its cascade stage.
	if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Data) != 1 || r.Info.Width != 128 || r.Info.Seed != 1 {
		t.Fatalf("generation answer %.300s", body)
	}
	for _, model := range []string{"./models", "/tmp", "hf:someone/something"} {
		if code, body := postGeneration(t, base, fmt.Sprintf(`{"model": %q, "prompt": "x"}`, model)); code != 404 {
			t.Fatalf("model %s: %d %s, want 404", model, code, body)
		}
	}
	if code, _ := postGeneration(t, base, `{"model": "builtin:default", "prompt": "x", "steps": 1}`); code != 200 {
		t.Fatalf("builtin:default: %d", code)
	}
}

// TestServeCLI runs `imagegen serve` as a user would and makes a picture
// with the built-in model, then repaints half of it through the edits
// endpoint (OpenAI's mask: transparent pixels are repainted).
func TestServeCLI(t *testing.T) {
	testort.Init(t)
	addr := freeAddr(t)
	startCLI(t, "serve", "--addr", addr, "--api-key", "k", "--grace", "5s")
	checkServe(t, "http://"+addr)

	var init, mask bytes.Buffer
	png.Encode(&init, image.NewRGBA(image.Rect(0, 0, 32, 32)))
	m := image.NewNRGBA(image.Rect(0, 0, 32, 32))
	for y := range 32 {
		for x := range 16 {
			m.SetNRGBA(x, y, color.NRGBA{A: 255}) // keep the left half
		}
	}
	png.Encode(&mask, m)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("prompt", "a blue star")
	mw.WriteField("steps", "3")
	for name, data := range map[string][]byte{"image": init.Bytes(), "mask": mask.Bytes()} {
		fw, _ := mw.CreateFormFile(name, name+".png")
		fw.Write(data)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/images/edits", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(out), "b64_json") {
		t.Fatalf("edits: %d %.300s", resp.StatusCode, out)
	}
}

// TestServeWithNATSWorker runs `imagegen serve --queue nats://...` and
// one `imagegen worker` against an in-process NATS server.
func TestServeWithNATSWorker(t *testing.T) {
	testort.Init(t)
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	defer ns.Shutdown()
	addr := freeAddr(t)
	startCLI(t, "serve", "--addr", addr, "--api-key", "k", "--queue", ns.ClientURL(), "--grace", "5s")
	startCLI(t, "worker", "--queue", ns.ClientURL())
	checkServe(t, "http://"+addr)
}
