package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagegen/imagegen/defaultmodel"
	"github.com/imagegen/imagegen/engine"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/jobqueue"
	"github.com/imagegen/imagegen/modelcache"
	"github.com/imagegen/imagegen/pipeline"
)

// rssBytes reads this process's resident set size.
func rssBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// TestLoad sends 200 concurrent clients at a server running the built-in
// model on loopback for a bounded time (3 s; IMAGEGEN_LOADTEST_SECONDS
// sets another): every answer must be 200 or 429, never another error.
// It logs the counts, the RSS growth and the server's own share of a
// request's time (measured one request at a time: the latency minus the
// model's run).
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	cache := builtinCache(t)
	eng := engine.New(cache, engine.Limits{})
	q := jobqueue.NewMemory(eng.Run, jobqueue.MemoryOptions{MaxWaiting: 16})
	defer q.Close(context.Background())
	srv, err := New(Options{Queue: q, Models: []ModelInfo{{Name: "default"}}, Check: eng.Check, Loaded: cache.Loaded,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: time.Minute}
	body := []byte(`{"prompt": "a red circle above a blue square", "steps": 2, "seed": 1}`)
	post := func() (int, []byte, error) {
		resp, err := client.Post(ts.URL+"/v1/images/generations", "application/json", bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}

	// The server's overhead, one request at a time (after a warm-up that
	// loads the model).
	var overhead []time.Duration
	for i := range 21 {
		start := time.Now()
		code, b, err := post()
		latency := time.Since(start)
		if err != nil || code != 200 {
			t.Fatalf("sequential request: %d %v %s", code, err, b)
		}
		var r imagesResponse
		json.Unmarshal(b, &r)
		if i > 0 {
			overhead = append(overhead, latency-time.Duration(r.Info.Seconds*float64(time.Second)))
		}
	}
	slices.Sort(overhead)

	seconds := 3.0
	if s, err := strconv.ParseFloat(os.Getenv("IMAGEGEN_LOADTEST_SECONDS"), 64); err == nil && s > 0 {
		seconds = s
	}
	runtime.GC()
	rss0 := rssBytes(t)
	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	var mu sync.Mutex
	codes := map[int]int{}
	var other []string
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				code, b, err := post()
				mu.Lock()
				codes[code]++
				if err != nil || (code != 200 && code != 429) {
					other = append(other, strconv.Itoa(code)+" "+string(b)+" "+errString(err))
				}
				mu.Unlock()
				if code == 429 {
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	runtime.GC()
	rss1 := rssBytes(t)
	t.Logf("200 clients for %.0f s: %v (status: count); RSS %.1f MiB -> %.1f MiB (%+.1f MiB); server overhead per request p50 %v, p90 %v (20 sequential requests, latency minus model run)",
		seconds, codes, float64(rss0)/(1<<20), float64(rss1)/(1<<20), float64(rss1-rss0)/(1<<20),
		overhead[len(overhead)/2].Round(time.Microsecond), overhead[len(overhead)*9/10].Round(time.Microsecond))
	if len(other) > 0 {
		t.Fatalf("%d answers other than 200 and 429, first: %s", len(other), other[0])
	}
	if codes[200] == 0 {
		t.Fatal("no request succeeded under load")
	}
	// Still serving normally.
	if code, b, err := post(); err != nil || code != 200 {
		t.Fatalf("after the load: %d %v %s", code, err, b)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// builtinCache serves the built-in model (written into a temporary cache)
// under every name, as imagegen serve does for "default"; it closes when
// the test ends.
func builtinCache(t *testing.T) *modelcache.Cache[*engine.Model] {
	t.Helper()
	testort.Init(t)
	dir, err := defaultmodel.Dir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cache := modelcache.New(func(ctx context.Context, name string) (*engine.Model, error) {
		p, err := pipeline.Load(ctx, dir, pipeline.Options{})
		if err != nil {
			return nil, err
		}
		return &engine.Model{Name: name, Pipeline: p, Defaults: defaultmodel.Defaults()}, nil
	}, modelcache.Options{})
	t.Cleanup(func() { cache.Close() })
	return cache
}
