package server

import (
	"bytes"
	"context"
	"flag"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/imagegen/imagegen/engine"
	"github.com/imagegen/imagegen/jobqueue"
)

var screenshot = flag.Bool("screenshot", false, "TestWebPageEndToEnd: write "+screenshotPath+", the page after a generation at desktop and phone width")

// screenshotPath is the README's picture of the web page.
const screenshotPath = "../docs/serve/page.png"

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestWebPageEndToEnd drives the page at / in headless Chromium at a
// phone's width against a server running the built-in model: pick
// settings, press Generate, watch the progress, find the picture in the
// gallery.
func TestWebPageEndToEnd(t *testing.T) {
	browser := findChromium()
	if browser == "" {
		t.Skip("chromium not installed (apt-get install chromium); skipping the browser test")
	}
	cache := builtinCache(t)
	eng := engine.New(cache, engine.Limits{})
	q := jobqueue.NewMemory(eng.Run, jobqueue.MemoryOptions{})
	defer q.Close(context.Background())
	srv, err := New(Options{Queue: q, Models: []ModelInfo{{Name: "default", Family: "sd1"}}, Check: eng.Check, Loaded: cache.Loaded,
		APIKey: "k3y", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(390, 844))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	err = chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible("#apikey"),
		chromedp.SendKeys("#apikey", "k3y"),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`document.getElementById("apikey").dispatchEvent(new Event("change"))`)(ctx, t)
			return err
		}),
		chromedp.WaitReady(`#model option[value="default"]`),
		chromedp.WaitReady(`#sampler option[value="Euler a"]`),
		chromedp.SetValue("#prompt", "a large blue star at the top left"),
		chromedp.SetValue("#steps", "20"),
		chromedp.SetValue("#seed", "3"),
		chromedp.SetValue("#guidance", "3"),
		chromedp.Click("#generate"),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	// The progress bar moves while the job runs (SSE step events).
	sawProgress, err := chromedp.Run(ctx, chromedp.Poll[float64](`(() => { const v = document.getElementById("progress").value; return v > 0 && v < 1 ? v : 0 })()`, chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil {
		t.Fatalf("waiting for progress: %v", err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	natural, err := chromedp.Run(wctx, chromedp.Poll[int](`(() => { const i = document.querySelector("#gallery img"); return i && i.complete && i.naturalWidth > 0 ? i.naturalWidth : 0 })()`))
	if err != nil {
		status, _ := chromedp.Run(ctx, chromedp.Text("#status"))
		gallery, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("gallery").innerHTML`))
		t.Fatalf("waiting for the picture: %v (status %q, gallery %s)", err, status, gallery)
	}
	status, err := chromedp.Run(ctx, chromedp.Text("#status"))
	if err != nil {
		t.Fatal(err)
	}
	caption, err := chromedp.Run(ctx, chromedp.Text("#gallery figcaption"))
	if err != nil {
		t.Fatal(err)
	}
	fits, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
	if err != nil {
		t.Fatal(err)
	}
	// 128: the built-in model's 32x32 enlarged by its cascade stage.
	if natural != 128 || !strings.Contains(status, "done: seed 3, 20 steps") || !strings.Contains(caption, "blue star") {
		t.Fatalf("picture %d px wide, status %q, caption %q; want 128, done with seed 3 and 20 steps", natural, status, caption)
	}
	if sawProgress <= 0 {
		t.Fatal("no progress seen while the job ran")
	}
	if !fits {
		t.Fatal("the page is wider than a phone's screen (390 px)")
	}
	if *screenshot {
		writeScreenshot(ctx, t)
	}
}

// writeScreenshot captures the page as it stands at phone width and again
// at desktop width, and writes both side by side to screenshotPath.
func writeScreenshot(ctx context.Context, t *testing.T) {
	// capture returns the viewport down to the end of the page's content.
	capture := func(w, h int64) image.Image {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h), chromedp.Sleep(300*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		bottom, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.body.getBoundingClientRect().bottom`))
		if err != nil {
			t.Fatal(err)
		}
		r := img.Bounds()
		if end := r.Min.Y + int(bottom) + 16; end < r.Max.Y {
			r.Max.Y = end
		}
		return img.(interface {
			SubImage(image.Rectangle) image.Image
		}).SubImage(r)
	}
	phone, desktop := capture(390, 844), capture(1280, 844)
	const gap = 24
	pb, db := phone.Bounds(), desktop.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, db.Dx()+gap+pb.Dx(), max(db.Dy(), pb.Dy())))
	draw.Draw(out, out.Bounds(), image.NewUniform(color.NRGBA{0xd0, 0xd0, 0xd0, 0xff}), image.Point{}, draw.Src)
	draw.Draw(out, db.Sub(db.Min), desktop, db.Min, draw.Src)
	draw.Draw(out, pb.Sub(pb.Min).Add(image.Pt(db.Dx()+gap, 0)), phone, pb.Min, draw.Src)
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, out); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(screenshotPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(screenshotPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%dx%d, %d KB)", screenshotPath, out.Bounds().Dx(), out.Bounds().Dy(), buf.Len()>>10)
}
