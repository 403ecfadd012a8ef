package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/imagegen/imagegen/engine"
	"github.com/imagegen/imagegen/jobqueue"
)

// TestBatchThroughput measures pictures per second of the built-in model
// on loopback with 16 clients posting synchronous requests (different
// prompts and seeds, 4 steps), without batching and with --batch-max 4
// and 8. Each setting runs for IMAGEGEN_BATCHTEST_SECONDS (2 s) in each of
// three interleaved rounds; it logs the median of the rounds' rates and
// the median request latency. It fails only on errors: the figures depend
// on the machine.
func TestBatchThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("throughput test skipped in -short mode")
	}
	cache := builtinCache(t)
	eng := engine.New(cache, engine.Limits{})
	seconds := 2.0
	if s, err := strconv.ParseFloat(os.Getenv("IMAGEGEN_BATCHTEST_SECONDS"), 64); err == nil && s > 0 {
		seconds = s
	}
	const clients = 16
	settings := []int{1, 4, 8}
	var sizesMu sync.Mutex
	runs, batched := map[int]int{}, map[int]int{}
	rates := map[int][]float64{}
	latencies := map[int][]time.Duration{}
	for round := range 3 {
		for _, batchMax := range settings {
			q := jobqueue.NewMemory(eng.Run, jobqueue.MemoryOptions{MaxWaiting: 64,
				Batch: jobqueue.Batching{Max: batchMax, Key: eng.BatchKey, Run: func(ctx context.Context, specs []jobqueue.Spec, progress func(int, jobqueue.Step)) ([]*jobqueue.Output, []error) {
					sizesMu.Lock()
					runs[batchMax]++
					batched[batchMax] += len(specs)
					sizesMu.Unlock()
					return eng.RunBatch(ctx, specs, progress)
				}}})
			srv, err := New(Options{Queue: q, Models: []ModelInfo{{Name: "default"}}, Check: eng.Check, Loaded: cache.Loaded,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(srv.Handler())
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: time.Minute}
			post := func(i int) error {
				body := fmt.Sprintf(`{"prompt": "a red circle above a blue square, %d", "steps": 4, "seed": %d}`, i, i)
				resp, err := client.Post(ts.URL+"/v1/images/generations", "application/json", bytes.NewReader([]byte(body)))
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 {
					return fmt.Errorf("%d %s", resp.StatusCode, b)
				}
				return nil
			}
			if err := post(0); err != nil { // warm-up: loads the model
				t.Fatal(err)
			}
			var mu sync.Mutex
			var errs []error
			images := 0
			var wg sync.WaitGroup
			start := time.Now()
			deadline := start.Add(time.Duration(seconds * float64(time.Second)))
			for c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; time.Now().Before(deadline); i++ {
						t0 := time.Now()
						err := post(c*100000 + i)
						mu.Lock()
						if err != nil {
							errs = append(errs, err)
						} else {
							images++
							latencies[batchMax] = append(latencies[batchMax], time.Since(t0))
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			ts.Close()
			q.Close(context.Background())
			if len(errs) > 0 {
				t.Fatalf("batch-max %d: %d errors, first: %v", batchMax, len(errs), errs[0])
			}
			rate := float64(images) / elapsed.Seconds()
			rates[batchMax] = append(rates[batchMax], rate)
			t.Logf("round %d, batch-max %d: %d pictures in %.2f s = %.1f/s", round, batchMax, images, elapsed.Seconds(), rate)
		}
	}
	for _, b := range settings {
		slices.Sort(rates[b])
		slices.Sort(latencies[b])
		l := latencies[b]
		mean := 0.0
		if runs[b] > 0 {
			mean = float64(batched[b]) / float64(runs[b])
		}
		t.Logf("batch-max %d: median %.1f pictures/s (rounds %.1f), request latency p50 %v p90 %v; %d batched runs of %.1f jobs on average",
			b, rates[b][1], rates[b], l[len(l)/2].Round(time.Millisecond), l[len(l)*9/10].Round(time.Millisecond), runs[b], mean)
	}
}
