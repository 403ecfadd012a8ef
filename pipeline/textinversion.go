package pipeline

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/imagegen/imagegen/textinversion"
)

// componentEmbeds is what textual inversion adds to one text encoder: the
// rows appended to its token embedding table and each embedding's ids.
type componentEmbeds struct {
	rows []float32
	ids  map[string][]int
}

// ErrEmbedding is returned (wrapped) by Load for a textual-inversion
// embedding that does not fit the checkpoint's text encoders.
var ErrEmbedding = errors.New("pipeline: embedding does not fit this checkpoint")

// embeddingKeys names, per family, the text encoder folders embeddings
// extend and the key of their vectors in an embedding file.
var embeddingKeys = map[Family][][2]string{
	FamilySD:   {{"text_encoder", ""}},
	FamilySDXL: {{"text_encoder", "clip_l"}, {"text_encoder_2", "clip_g"}},
}

// loadEmbeddings reads the embedding files and lays their vectors out as
// new rows of each text encoder's token table, checking every width
// before anything opens.
func loadEmbeddings(dir string, fam Family, paths []string) (map[string]*componentEmbeds, error) {
	keys, ok := embeddingKeys[fam]
	if !ok {
		return nil, fmt.Errorf("%w: textual inversion applies to SD and SDXL checkpoints, not %s", ErrEmbedding, fam)
	}
	out := map[string]*componentEmbeds{}
	for _, k := range keys {
		m, err := readGraph(filepath.Join(dir, k[0], "model.onnx"))
		if err != nil {
			return nil, err
		}
		_, table, err := textinversion.TokenTable(m)
		if err != nil {
			return nil, fmt.Errorf("pipeline: %s: %w", k[0], err)
		}
		vocab, dim := int(table.Dims[0]), int(table.Dims[1])
		ce := &componentEmbeds{ids: map[string][]int{}}
		for _, path := range paths {
			e, err := textinversion.Load(path)
			if err != nil {
				return nil, fmt.Errorf("pipeline: %w", err)
			}
			n := e.Count(k[1])
			if n == 0 {
				return nil, fmt.Errorf("%w: %s has no vectors for %s (it has %v; an embedding for another model family?)", ErrEmbedding, path, k[0], keysOf(e.Vectors))
			}
			if e.Dims[k[1]] != dim {
				return nil, fmt.Errorf("%w: %s is %d wide, %s takes %d", ErrEmbedding, path, e.Dims[k[1]], k[0], dim)
			}
			if _, dup := ce.ids[e.Name]; dup {
				return nil, fmt.Errorf("%w: two embeddings are called %s", ErrEmbedding, e.Name)
			}
			first := vocab + len(ce.rows)/dim
			for i := 0; i < n; i++ {
				ce.ids[e.Name] = append(ce.ids[e.Name], first+i)
			}
			ce.rows = append(ce.rows, e.Vectors[k[1]]...)
		}
		out[k[0]] = ce
	}
	return out, nil
}

func keysOf(m map[string][]float32) []string {
	var ks []string
	for k := range m {
		if k == "" {
			k = "emb_params"
		}
		ks = append(ks, k)
	}
	return ks
}
