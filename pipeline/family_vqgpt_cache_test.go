package pipeline

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
)

// tinyKVDecoder writes a random GPT with a cache and opens it.
func tinyKVDecoder(t testing.TB) (*kvDecoder, onnxexport.GPTConfig) {
	t.Helper()
	testort.Init(t)
	cfg := onnxexport.GPTConfig{Layers: 2, Width: 16, Heads: 2, VocabSize: 40, MaxPositions: 24, OutputSize: 12}
	m, err := onnxexport.NewGPTCachedGraph(cfg).Build()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := onnxexport.Save(path, m); err != nil {
		t.Fatal(err)
	}
	s, err := ort.Open(path, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return newKVDecoder(s, cfg.Layers, int(cfg.Heads), int(cfg.HeadDim()), int(cfg.OutputSize)), cfg
}

// TestKVCacheMatchesFullPass checks that logits computed one token at a
// time with the cache equal those of the whole sequence in one pass with
// an empty cache, at every position.
func TestKVCacheMatchesFullPass(t *testing.T) {
	d, cfg := tinyKVDecoder(t)
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]int64, 2*cfg.MaxPositions)
	for i := range ids {
		ids[i] = rng.Int64N(cfg.VocabSize)
	}
	if worst := cachedVsFull(t, d, ids, 2, int(cfg.MaxPositions), 5); worst > 1e-4 {
		t.Errorf("max |cached − full| = %g, want ≤ 1e-4", worst)
	}
}

// TestShippedVQGPTCache is TestKVCacheMatchesFullPass on builtin:vqgpt: a
// prompt's text tokens in one step, then 256 codes one at a time, against
// the 288 positions in one pass.
func TestShippedVQGPTCache(t *testing.T) {
	testort.Init(t)
	if _, err := os.Stat(filepath.Join(shippedVQGPT, "model_index.json")); err != nil {
		t.Skip("no builtin:vqgpt folder")
	}
	p, err := Load(context.Background(), shippedVQGPT, Options{Session: ort.Options{IntraOpThreads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	g := p.impl.(*vqgptPipeline)
	c := g.cfg
	n := c.TextLength + c.tokens()
	rng := rand.New(rand.NewPCG(3, 4))
	ids := make([]int64, 0, 2*n)
	for _, prompt := range []string{"a small red circle at the top left", "a blue star above a yellow heart"} {
		for _, v := range g.tok.EncodePadded(prompt, c.TextLength) {
			ids = append(ids, int64(v))
		}
		for range c.tokens() {
			ids = append(ids, int64(c.TextVocabSize)+rng.Int64N(int64(c.CodebookSize)))
		}
	}
	worst := cachedVsFull(t, g.dec, ids, 2, n, c.TextLength)
	t.Logf("builtin:vqgpt: max |cached − full| over %d positions of 2 sequences: %.3g", n, worst)
	if worst > 1e-4 {
		t.Errorf("max |cached − full| = %g, want ≤ 1e-4", worst)
	}
}

// cachedVsFull runs ids [batch, n] through d in one pass with an empty
// cache and again as prefix tokens then one token per step with the
// cache, and returns the largest |difference| of the logits.
func cachedVsFull(t *testing.T, d *kvDecoder, ids []int64, batch, n, prefix int) float64 {
	t.Helper()
	ctx := context.Background()
	full, err := d.step(ctx, ids, batch, n, d.newCache(batch), d.newCache(batch))
	if err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), full...)
	past, next := d.newCache(batch), d.newCache(batch)
	v := d.vocab
	worst := 0.0
	for start := 0; start < n; {
		seq := 1
		if start == 0 {
			seq = prefix
		}
		step := make([]int64, 0, batch*seq)
		for r := range batch {
			step = append(step, ids[r*n+start:r*n+start+seq]...)
		}
		got, err := d.step(ctx, step, batch, seq, past, next)
		if err != nil {
			t.Fatal(err)
		}
		past, next = next, past
		if past.length != start+seq {
			t.Fatalf("cache length %d after position %d", past.length, start+seq)
		}
		for r := range batch {
			for j := range seq {
				for k := range v {
					g, w := got[(r*seq+j)*v+k], want[(r*n+start+j)*v+k]
					worst = math.Max(worst, math.Abs(float64(g-w)))
				}
			}
		}
		start += seq
	}
	return worst
}

func TestKVCacheWrongShape(t *testing.T) {
	d, _ := tinyKVDecoder(t)
	ctx := context.Background()
	good := d.newCache(2)
	if _, err := d.step(ctx, []int64{1, 2}, 2, 1, good, d.newCache(2)); err != nil {
		t.Fatalf("empty cache: %v", err)
	}
	short := &kvCache{batch: 2, length: 3, keys: [][]float32{make([]float32, 2*2*3*8), make([]float32, 5)}, values: [][]float32{make([]float32, 2*2*3*8), make([]float32, 2*2*3*8)}}
	tests := []struct {
		name  string
		past  *kvCache
		batch int
		want  string
	}{
		{"nil cache", nil, 2, "none given"},
		{"other batch", d.newCache(3), 2, "wants batch 2"},
		{"missing layer", &kvCache{batch: 2, keys: make([][]float32, 1), values: make([][]float32, 1)}, 2, "2 layers"},
		{"short layer", short, 2, "layer 1 holds 5 keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := make([]int64, tt.batch)
			_, err := d.step(ctx, ids, tt.batch, 1, tt.past, d.newCache(tt.batch))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
	if _, err := d.step(ctx, []int64{1, 2}, 2, 1, good, good); err == nil {
		t.Error("the same cache as past and next: no error")
	}
}
