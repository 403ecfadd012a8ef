package prompt

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
)

// wordTokenizer gives each space-separated word one id (its length + 10,
// "," = 3), wrapped in start 1 and end 2; pad is pad.
type wordTokenizer struct{ pad int }

func (w wordTokenizer) Encode(text string) []int {
	ids := []int{1}
	for _, f := range strings.Fields(strings.ReplaceAll(text, ",", " , ")) {
		if f == "," {
			ids = append(ids, 3)
		} else {
			ids = append(ids, 10+len(f))
		}
	}
	return append(ids, 2)
}

func (w wordTokenizer) PadID() int { return w.pad }

func words(n int, word string) string { return strings.TrimSpace(strings.Repeat(word+" ", n)) }

func TestChunks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prompt string
		pad    int
		// lens is the number of prompt tokens in each chunk.
		lens []int
	}{
		{"empty", "", 2, []int{0}},
		{"short", "a red cat", 2, []int{3}},
		{"exactly 75", words(75, "cat"), 2, []int{75}},
		{"76 tokens", words(76, "cat"), 2, []int{75, 1}},
		{"160 tokens", words(160, "cat"), 2, []int{75, 75, 10}},
		{"BREAK", "a cat BREAK a dog", 2, []int{2, 2}},
		{"BREAK at start", "BREAK a dog", 2, []int{0, 2}},
		// 70 words, a comma, 10 words: the chunk fills 4 tokens after the
		// comma, so those 4 words move to the next chunk.
		{"comma backtrack", words(70, "cat") + ", " + words(10, "dog"), 2, []int{71, 10}},
		// A comma 30 tokens before the end is too far back to move.
		{"comma too far", words(45, "cat") + ", " + words(40, "dog"), 2, []int{75, 11}},
		{"pad after end", "a cat", 0, []int{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chunks, err := Chunks(wordTokenizer{pad: tc.pad}, Parse(tc.prompt))
			if err != nil {
				t.Fatal(err)
			}
			if len(chunks) != len(tc.lens) {
				t.Fatalf("got %d chunks, want %d", len(chunks), len(tc.lens))
			}
			for i, c := range chunks {
				if len(c.IDs) != 77 || len(c.Weights) != 77 {
					t.Fatalf("chunk %d: %d ids, %d weights, want 77", i, len(c.IDs), len(c.Weights))
				}
				if c.IDs[0] != 1 {
					t.Errorf("chunk %d starts with %d, want the start token", i, c.IDs[0])
				}
				n := 0
				for _, id := range c.IDs[1:] {
					if id == 2 || id == tc.pad {
						break
					}
					n++
				}
				if n != tc.lens[i] {
					t.Errorf("chunk %d holds %d prompt tokens, want %d", i, n, tc.lens[i])
				}
				if c.IDs[n+1] != 2 {
					t.Errorf("chunk %d: token after the prompt is %d, want the end token", i, c.IDs[n+1])
				}
				for k := n + 2; k < 77; k++ {
					if c.IDs[k] != tc.pad {
						t.Fatalf("chunk %d: id %d at %d after the end token, want pad %d", i, c.IDs[k], k, tc.pad)
					}
				}
			}
		})
	}
}

func TestChunkWeights(t *testing.T) {
	chunks, err := Chunks(wordTokenizer{pad: 2}, Parse("a (red:1.5) [cat]"))
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 1, 1.5, float32(1 / 1.1), 1, 1}
	for i, w := range want {
		if math.Abs(float64(chunks[0].Weights[i]-w)) > 1e-6 {
			t.Errorf("weight %d = %v, want %v", i, chunks[0].Weights[i], w)
		}
	}
}

func TestChunksNeedCLIP(t *testing.T) {
	if _, err := Chunks(t5Like{}, Parse("a cat")); err != ErrNotCLIP {
		t.Errorf("got %v, want ErrNotCLIP", err)
	}
}

type t5Like struct{}

func (t5Like) Encode(text string) []int { return []int{1} } // EOS only
func (t5Like) PadID() int               { return 0 }

// TestEmphasize compares with testdata/emphasis.json, written by
// testdata/emphasis_ref.py, a plain-Python transcription of
// AUTOMATIC1111's EmphasisOriginal.
func TestEmphasize(t *testing.T) {
	data, err := os.ReadFile("testdata/emphasis.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Z       [][]float64 `json:"z"`
		Weights []float64   `json:"weights"`
		Want    [][]float64 `json:"want"`
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	for n, c := range cases {
		var z []float32
		for _, row := range c.Z {
			for _, v := range row {
				z = append(z, float32(v))
			}
		}
		ws := make([]float32, len(c.Weights))
		for i, w := range c.Weights {
			ws[i] = float32(w)
		}
		Emphasize(z, ws)
		dim := len(c.Z[0])
		for i, row := range c.Want {
			for j, want := range row {
				if got := float64(z[i*dim+j]); math.Abs(got-want) > 1e-5 {
					t.Fatalf("case %d: z[%d,%d] = %v, want %v", n, i, j, got, want)
				}
			}
		}
	}
}

// BenchmarkEmphasize weights one SD 1.5 chunk (77 tokens × 768).
func BenchmarkEmphasize(b *testing.B) {
	z := make([]float32, 77*768)
	w := make([]float32, 77)
	for i := range z {
		z[i] = float32(i%13) - 6
	}
	for i := range w {
		w[i] = 1 + float32(i%3)*0.1
	}
	for b.Loop() {
		Emphasize(z, w)
	}
}
