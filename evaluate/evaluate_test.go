package evaluate_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/imagegen/imagegen/evaluate"
	"github.com/imagegen/imagegen/internal/familytest"
)

func TestRunGenerativeFamily(t *testing.T) {
	p := familytest.Load(t, familytest.WriteVAE)
	save := t.TempDir()
	rep, err := evaluate.Run(context.Background(), p, "tiny-vae", evaluate.Options{N: 6, Likelihood: true, LikelihoodN: 3, SaveDir: save})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Family != "vae" || rep.Prompts != 6 || rep.Size != 32 || rep.Adherence.Images != 6 {
		t.Fatalf("report %+v: want family vae, 6 prompts of 32x32", rep)
	}
	// The tiny decoder is one linear layer from latent and condition to
	// 3x32x32 outputs, the encoder two onto the latent; the encoder's one
	// scalar constant is not a weight.
	if want := int64((familytest.LatentDim+70+1)*3*32*32 + 2*(3*32*32+70+1)*familytest.LatentDim); rep.Parameters != want {
		t.Errorf("parameters %d, want %d", rep.Parameters, want)
	}
	if rep.Frechet == nil || rep.FrechetReal == nil || !(*rep.Frechet > *rep.FrechetReal) {
		t.Errorf("Fréchet distance %v against a real baseline of %v: a random decoder should be farther than real pictures", rep.Frechet, rep.FrechetReal)
	}
	if rep.Bits == nil || rep.Bits.Pictures != 3 || !(rep.Bits.IWAE64 <= rep.Bits.ELBO+1e-9) || !(rep.Bits.ELBO > 0) {
		t.Errorf("bits %+v: want 3 pictures, 0 < IWAE_64 <= ELBO", rep.Bits)
	}
	if entries, _ := os.ReadDir(save); len(entries) != 6 {
		t.Errorf("save dir holds %d files, want 6", len(entries))
	}
}

func TestRunTokenizer(t *testing.T) {
	p := familytest.Load(t, familytest.WriteVQVAE)
	rep, err := evaluate.Run(context.Background(), p, "tiny-vq", evaluate.Options{N: 4})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Reconstruction
	if r == nil {
		t.Fatal("no reconstruction report for a tokenizer")
	}
	if r.CodebookSize != familytest.CodebookSize || r.UsedCodes+r.DeadCodes != r.CodebookSize || r.UsedCodes < 1 {
		t.Errorf("codebook %+v: used + dead must be the codebook size", r)
	}
	if r.Perplexity < 1 || r.Perplexity > float64(r.UsedCodes)+1e-9 {
		t.Errorf("perplexity %v outside [1, used codes %d]", r.Perplexity, r.UsedCodes)
	}
	if r.PSNR <= 0 || r.PSNR > 60 {
		t.Errorf("PSNR %v dB of a random tokenizer: want a small positive figure", r.PSNR)
	}
	if r.OriginalShape < 0.9 {
		t.Errorf("the checker scores the original pictures' shapes %.2f: want near 1", r.OriginalShape)
	}
}

func TestCountParametersMissingFolder(t *testing.T) {
	n, err := evaluate.CountParameters(filepath.Join(t.TempDir(), "none"))
	if err != nil || n != 0 {
		t.Fatalf("empty folder: %d, %v", n, err)
	}
}
