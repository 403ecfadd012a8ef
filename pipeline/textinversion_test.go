package pipeline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/onnx_export/onnxpb"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/safetensors"
	"github.com/imagegen/imagegen/textinversion"
	"github.com/imagegen/imagegen/tokenizer"
)

// TestTextualInversion: an embedding whose two vectors are the token
// embeddings of "red" and "cat" makes "a redcat" give exactly the picture
// of "a red cat", in both prompt syntaxes.
func TestTextualInversion(t *testing.T) {
	testort.Init(t)
	dir := conformance.Dir(t, "sd1-tiny")
	tok, err := tokenizer.Load(filepath.Join(dir, "tokenizer"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "text_encoder", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		t.Fatal(err)
	}
	_, table, err := textinversion.TokenTable(m)
	if err != nil {
		t.Fatal(err)
	}
	tt, err := onnxexport.DecodeTensor(table, "")
	if err != nil {
		t.Fatal(err)
	}
	dim := int(table.Dims[1])
	var rows []float32
	for _, word := range []string{"red", "cat"} {
		ids := tok.Encode(word)
		if len(ids) != 3 {
			t.Fatalf("%q is %d tokens in the tiny vocabulary; pick a one-token word", word, len(ids)-2)
		}
		rows = append(rows, tt.Float32[ids[1]*dim:(ids[1]+1)*dim]...)
	}
	emb := filepath.Join(t.TempDir(), "redcat.safetensors")
	if err := safetensors.WriteFile(emb, map[string]safetensors.Tensor{"emb_params": {Shape: []int64{2, int64(dim)}, Data: rows}}, nil); err != nil {
		t.Fatal(err)
	}
	var c refCase
	conformance.Case(t, "sd1/euler", &c)
	run := func(opts pipeline.Options, prompt, syntax string) []float32 {
		t.Helper()
		p, err := pipeline.Load(context.Background(), dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		r := c.request(t)
		r.Prompts, r.PromptSyntax = []string{prompt}, syntax
		res, err := p.Generate(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		return res.Images
	}
	withEmb := pipeline.Options{Embeddings: []string{emb}}
	for _, syntax := range []string{pipeline.PromptLiteral, pipeline.PromptA1111} {
		want := run(pipeline.Options{}, "a red cat", syntax)
		compare(t, "redcat ("+syntax+")", run(withEmb, "a redcat", syntax), want, 0, 0)
	}
	// The SD 1 tiny encoder is 32 wide; testdata's A1111 .pt embedding is 4.
	_, err = pipeline.Load(context.Background(), dir, pipeline.Options{Embeddings: []string{"../textinversion/testdata/a1111.pt"}})
	if !errors.Is(err, pipeline.ErrEmbedding) {
		t.Errorf("4-wide embedding on a 32-wide encoder: got %v, want ErrEmbedding", err)
	}
}
