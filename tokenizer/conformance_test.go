package tokenizer

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/imagegen/imagegen/internal/conformance"
)

// refCase is one text of refs.json's clip_tokenizer / t5_tokenizer entries.
type refCase struct {
	Text     string `json:"text"`
	IDs      []int  `json:"ids"`
	Padded77 []int  `json:"padded77"`
	Padded32 []int  `json:"padded32"`
}

type refVariant struct {
	PadToken string    `json:"pad_token"`
	PadID    int       `json:"pad_id"`
	Cases    []refCase `json:"cases"`
}

// Which tokenizer folders of the conformance checkpoints each reference
// variant describes.
var clipFolders = map[string][]string{
	"clip_pad_eos":  {"sd1-tiny/tokenizer", "sd1-lcm-tiny/tokenizer", "sdxl-tiny/tokenizer", "sd3-tiny/tokenizer", "flux-tiny/tokenizer"},
	"clip_pad_bang": {"sdxl-tiny/tokenizer_2", "sd3-tiny/tokenizer_2"},
}

var t5Folders = []string{"sd3-tiny/tokenizer_3", "flux-tiny/tokenizer_2"}

func fixtureFolder(t testing.TB, rel string) string {
	t.Helper()
	ckpt, sub := filepath.Split(rel)
	return filepath.Join(conformance.Dir(t, filepath.Clean(ckpt)), sub)
}

// clipForms loads a CLIP folder every way it can be read: through Load,
// and from vocab.json + merges.txt alone when tokenizer.json is there too.
func clipForms(t *testing.T, dir string) map[string]Tokenizer {
	t.Helper()
	forms := map[string]Tokenizer{}
	tok, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}
	forms["Load"] = tok
	if exists(filepath.Join(dir, "tokenizer.json")) {
		cfg, err := readConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		files, err := loadCLIPFiles(dir, cfg)
		if err != nil {
			t.Fatalf("loadCLIPFiles(%s): %v", dir, err)
		}
		forms["vocab+merges"] = files
	}
	return forms
}

func checkCase(t *testing.T, tok Tokenizer, c refCase, padLen int, padded []int) {
	t.Helper()
	if got := tok.Encode(c.Text); !slices.Equal(got, c.IDs) {
		t.Errorf("Encode(%q) = %v, want %v", c.Text, got, c.IDs)
	}
	if got := tok.EncodePadded(c.Text, padLen); !slices.Equal(got, padded) {
		t.Errorf("EncodePadded(%q, %d) = %v, want %v", c.Text, padLen, got, padded)
	}
}

func TestConformanceCLIP(t *testing.T) {
	var refs map[string]refVariant
	conformance.Case(t, "clip_tokenizer", &refs)
	if len(refs) == 0 {
		t.Fatal("refs.json clip_tokenizer has no variants")
	}
	for variant, ref := range refs {
		folders, ok := clipFolders[variant]
		if !ok {
			t.Errorf("refs.json variant %q has no known tokenizer folder", variant)
			continue
		}
		for _, rel := range folders {
			dir := fixtureFolder(t, rel)
			for form, tok := range clipForms(t, dir) {
				t.Run(variant+"/"+rel+"/"+form, func(t *testing.T) {
					if tok.PadID() != ref.PadID {
						t.Errorf("PadID() = %d, want %d (%q)", tok.PadID(), ref.PadID, ref.PadToken)
					}
					if tok.ModelMaxLength() != 77 {
						t.Errorf("ModelMaxLength() = %d, want 77", tok.ModelMaxLength())
					}
					for _, c := range ref.Cases {
						checkCase(t, tok, c, 77, c.Padded77)
						// Zero means model_max_length.
						if got := tok.EncodePadded(c.Text, 0); !slices.Equal(got, c.Padded77) {
							t.Errorf("EncodePadded(%q, 0) = %v, want %v", c.Text, got, c.Padded77)
						}
					}
				})
			}
		}
	}
}

func TestConformanceT5(t *testing.T) {
	var ref refVariant
	conformance.Case(t, "t5_tokenizer", &ref)
	if len(ref.Cases) == 0 {
		t.Fatal("refs.json t5_tokenizer has no cases")
	}
	for _, rel := range t5Folders {
		dir := fixtureFolder(t, rel)
		forms := map[string]Tokenizer{}
		tok, err := Load(dir)
		if err != nil {
			t.Fatalf("Load(%s): %v", dir, err)
		}
		forms["Load"] = tok
		// The fixtures ship tokenizer.json only; write the same model as
		// spiece.model to check that reader too.
		spDir := t.TempDir()
		if err := os.WriteFile(filepath.Join(spDir, "spiece.model"), spieceFromTokenizerJSON(t, dir), 0o644); err != nil {
			t.Fatal(err)
		}
		copyFile(t, filepath.Join(dir, "tokenizer_config.json"), filepath.Join(spDir, "tokenizer_config.json"))
		sp, err := Load(spDir)
		if err != nil {
			t.Fatalf("Load(spiece.model from %s): %v", rel, err)
		}
		forms["spiece.model"] = sp
		for form, tok := range forms {
			t.Run(rel+"/"+form, func(t *testing.T) {
				if tok.PadID() != 0 || tok.EOSID() != 1 || tok.ModelMaxLength() != 512 {
					t.Errorf("PadID, EOSID, ModelMaxLength = %d, %d, %d, want 0, 1, 512", tok.PadID(), tok.EOSID(), tok.ModelMaxLength())
				}
				for _, c := range ref.Cases {
					checkCase(t, tok, c, 32, c.Padded32)
				}
			})
		}
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
