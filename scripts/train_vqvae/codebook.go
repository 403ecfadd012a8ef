package main

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// codebook is the vector quantizer's state that lives beside the training
// graph: the codes and their exponential moving averages (van den Oord
// et al. 2017, appendix A.1: "VQ-VAE with EMA updates"). After every
// step the host moves each code to the EMA mean of the encoder outputs
// assigned to it, and restarts codes that no output has chosen for a
// while from random recent encoder outputs (dead-code restarts, as in
// Dhariwal et al. 2020, Jukebox).
type codebook struct {
	K, D int
	// Decay is the EMA decay γ of the cluster sizes and sums; Eps the
	// Laplace smoothing ε of the sizes; DeadAfter the number of steps a
	// code may go unchosen before it is restarted.
	Decay     float64
	Eps       float64
	DeadAfter int

	Codes    []float32 // [K*D] what the graph reads
	Size     []float64 // [K] EMA of the number of outputs assigned per step
	Sum      []float64 // [K*D] EMA of their sum
	LastUsed []int     // [K] the last step that chose each code (or restarted it)
	Step     int       // the last step applied
	Restarts int       // codes restarted so far
	// Started is set once the codes were drawn from the first batch's
	// encoder outputs (the step before that ran on all-zero codes).
	Started bool
}

func newCodebook(k, d int, decay, eps float64, deadAfter int) *codebook {
	return &codebook{K: k, D: d, Decay: decay, Eps: eps, DeadAfter: deadAfter,
		Codes: make([]float32, k*d), Size: make([]float64, k), Sum: make([]float64, k*d), LastUsed: make([]int, k)}
}

// updateStats reports what one update did.
type updateStats struct {
	Perplexity float64 // exp(entropy) of the batch's code usage
	Used       int     // codes chosen in the batch
	Restarted  int     // dead codes restarted
}

// update applies step's assignments: z holds the encoder outputs [N*D]
// and idx the code each chose [N]. The first call draws every code from
// z instead (a data-dependent start; that step's assignments were to
// all-zero codes). rng draws the restarts; seeding it from the step makes
// a resumed run restart the same codes.
func (c *codebook) update(step int, z []float32, idx []int64, rng *rand.Rand) (updateStats, error) {
	n := len(idx)
	if n == 0 || len(z) != n*c.D {
		return updateStats{}, fmt.Errorf("codebook: %d encoder values for %d indices of dim %d", len(z), n, c.D)
	}
	c.Step = step
	if !c.Started {
		for k := range c.K {
			c.restart(k, z, rng)
		}
		c.Started = true
		return updateStats{Restarted: c.K}, nil
	}
	counts := make([]float64, c.K)
	sums := make([]float64, c.K*c.D)
	for r, k := range idx {
		if k < 0 || int(k) >= c.K {
			return updateStats{}, fmt.Errorf("codebook: index %d out of range [0, %d)", k, c.K)
		}
		counts[k]++
		row := sums[int(k)*c.D : int(k+1)*c.D]
		for j, v := range z[r*c.D : (r+1)*c.D] {
			row[j] += float64(v)
		}
	}
	var total float64
	for k := range c.K {
		c.Size[k] = c.Decay*c.Size[k] + (1-c.Decay)*counts[k]
		total += c.Size[k]
		for j := range c.D {
			c.Sum[k*c.D+j] = c.Decay*c.Sum[k*c.D+j] + (1-c.Decay)*sums[k*c.D+j]
		}
	}
	st := updateStats{Perplexity: perplexity(counts)}
	for k := range c.K {
		// Laplace smoothing keeps a code that lost its outputs from
		// dividing by zero; it pulls that code towards the origin.
		smoothed := (c.Size[k] + c.Eps) / (total + float64(c.K)*c.Eps) * total
		for j := range c.D {
			c.Codes[k*c.D+j] = float32(c.Sum[k*c.D+j] / smoothed)
		}
		if counts[k] > 0 {
			c.LastUsed[k] = step
			st.Used++
		}
	}
	for k := range c.K {
		if step-c.LastUsed[k] >= c.DeadAfter {
			c.restart(k, z, rng)
			st.Restarted++
		}
	}
	c.Restarts += st.Restarted
	return st, nil
}

// restart puts code k on a random row of z with the weight of one
// output, as if that output alone had been assigned to it so far.
func (c *codebook) restart(k int, z []float32, rng *rand.Rand) {
	r := rng.IntN(len(z) / c.D)
	copy(c.Codes[k*c.D:(k+1)*c.D], z[r*c.D:(r+1)*c.D])
	c.Size[k] = 1
	for j := range c.D {
		c.Sum[k*c.D+j] = float64(z[r*c.D+j])
	}
	c.LastUsed[k] = c.Step
}

// perplexity returns exp of the entropy of the distribution counts
// describe: K for uniform use of K codes, 1 for a single one.
func perplexity(counts []float64) float64 {
	var n, h float64
	for _, v := range counts {
		n += v
	}
	if n == 0 {
		return 0
	}
	for _, v := range counts {
		if v > 0 {
			p := v / n
			h -= p * math.Log(p)
		}
	}
	return math.Exp(h)
}

// restartRNG is the random source of step's restarts.
func restartRNG(seed uint64, step int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(step)))
}

// codebookMagic starts a saved codebook (format version 1).
const codebookMagic = "imagegen-vq-codebook-v1\n"

// save writes c to path atomically (a temporary file, then a rename), so
// that the file always matches a complete checkpoint.
func (c *codebook) save(path string) error {
	var buf bytes.Buffer
	buf.WriteString(codebookMagic)
	if err := gob.NewEncoder(&buf).Encode(c); err != nil {
		return fmt.Errorf("codebook: save %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("codebook: save %s: %w", path, err)
	}
	_, err = tmp.Write(buf.Bytes())
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("codebook: save %s: %w", path, err)
	}
	return nil
}

// loadCodebook reads a codebook saved by save.
func loadCodebook(path string) (*codebook, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(raw, []byte(codebookMagic)) {
		return nil, fmt.Errorf("codebook: %s: not a saved codebook", path)
	}
	var c codebook
	if err := gob.NewDecoder(bytes.NewReader(raw[len(codebookMagic):])).Decode(&c); err != nil {
		return nil, fmt.Errorf("codebook: %s: %w", path, err)
	}
	if len(c.Codes) != c.K*c.D || len(c.Size) != c.K || len(c.Sum) != c.K*c.D || len(c.LastUsed) != c.K {
		return nil, fmt.Errorf("codebook: %s: inconsistent sizes for %d codes of dim %d", path, c.K, c.D)
	}
	return &c, nil
}
