package onnxexport

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// Training checkpoints: everything a Trainer needs to continue exactly as
// if it had not stopped (weights, AdamW moments, EMA, step, RNG state and
// the shuffle position), in one file written atomically.

// checkpointMagic starts every checkpoint file (format version 1).
const checkpointMagic = "imagegen-train-checkpoint-v1\n"

type checkpointTensor struct {
	Name  string
	Shape []int64
	Data  []float32
}

type checkpointFile struct {
	Graph   string // TrainGraph.Name: the architecture
	Step    int
	RNG     []byte
	Perm    []int
	Cursor  int
	Tensors []checkpointTensor
}

// ErrDatasetLength reports a checkpoint whose shuffle order was drawn for a
// dataset of another length (Trainer.Load); it wraps ErrArgument.
var ErrDatasetLength = fmt.Errorf("%w: dataset length changed", ErrArgument)

// Save writes the trainer's state to path atomically (a temporary file in
// the same folder, synced, then renamed over path).
func (t *Trainer) Save(path string) error {
	rngState, err := t.src.MarshalBinary()
	if err != nil {
		return fmt.Errorf("onnxexport: save checkpoint %s: %w", path, err)
	}
	cf := checkpointFile{Graph: t.g.Name, Step: t.step, RNG: rngState, Perm: t.sampler.perm, Cursor: t.sampler.cursor}
	for i, p := range t.g.Params {
		add := func(name string, data []float32) {
			cf.Tensors = append(cf.Tensors, checkpointTensor{Name: name, Shape: p.Shape, Data: data})
		}
		add(p.Name, t.cur.w[i])
		add(StatePrefixAdamM+p.Name, t.cur.m[i])
		add(StatePrefixAdamV+p.Name, t.cur.v[i])
		if p.HasEMA {
			add(StatePrefixEMA+p.Name, t.cur.ema[i])
		}
	}
	if err := writeCheckpointAtomic(path, func(w io.Writer) error {
		if _, err := io.WriteString(w, checkpointMagic); err != nil {
			return err
		}
		return gob.NewEncoder(w).Encode(&cf)
	}); err != nil {
		return fmt.Errorf("onnxexport: save checkpoint %s: %w", path, err)
	}
	return nil
}

func writeCheckpointAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Load restores a checkpoint written by Save. A checkpoint of another
// architecture (another graph name, a missing tensor or another shape) is
// refused with the reason, leaving the trainer unchanged.
func (t *Trainer) Load(path string) error {
	cf, err := readCheckpointFile(path, "load checkpoint")
	if err != nil {
		return err
	}
	if cf.Graph != t.g.Name {
		return fmt.Errorf("onnxexport: load checkpoint %s: %w: it was written for %q, this trainer trains %q", path, ErrArgument, cf.Graph, t.g.Name)
	}
	byName := map[string]checkpointTensor{}
	for _, ct := range cf.Tensors {
		byName[ct.Name] = ct
	}
	st := t.newState()
	for i, p := range t.g.Params {
		take := func(name string, dst []float32) error {
			ct, ok := byName[name]
			if !ok {
				return fmt.Errorf("onnxexport: load checkpoint %s: %w: tensor %q missing (another architecture?)", path, ErrArgument, name)
			}
			if !equalInts(ct.Shape, p.Shape) || len(ct.Data) != len(dst) {
				return fmt.Errorf("onnxexport: load checkpoint %s: %w: tensor %q has shape %v, the network wants %v (another architecture?)", path, ErrShape, name, ct.Shape, p.Shape)
			}
			copy(dst, ct.Data)
			return nil
		}
		errs := []error{take(p.Name, st.w[i]), take(StatePrefixAdamM+p.Name, st.m[i]), take(StatePrefixAdamV+p.Name, st.v[i])}
		if p.HasEMA {
			errs = append(errs, take(StatePrefixEMA+p.Name, st.ema[i]))
		}
		for _, e := range errs {
			if e != nil {
				return e
			}
		}
	}
	var src rand.PCG
	if err := src.UnmarshalBinary(cf.RNG); err != nil {
		return &FormatError{Path: path, Reason: "RNG state: " + err.Error()}
	}
	for _, i := range cf.Perm {
		if i < 0 || i >= t.data.Len() || len(cf.Perm) != t.data.Len() {
			return fmt.Errorf("onnxexport: load checkpoint %s: %w: shuffle order is for a dataset of %d examples, this one has %d", path, ErrDatasetLength, len(cf.Perm), t.data.Len())
		}
	}
	*t.src = src
	t.cur = st
	t.step = cf.Step
	t.sampler = sampler{perm: cf.Perm, cursor: cf.Cursor}
	return nil
}

// ReadCheckpointWeights returns the weights held in a checkpoint written by
// Trainer.Save, by parameter name, without the optimizer state or the
// moving averages; it needs no trainer, so a network of another
// architecture can take those of its parameters the checkpoint has.
func ReadCheckpointWeights(path string) (map[string]*Tensor, error) {
	cf, err := readCheckpointFile(path, "read checkpoint")
	if err != nil {
		return nil, err
	}
	out := map[string]*Tensor{}
	for _, ct := range cf.Tensors {
		if strings.HasPrefix(ct.Name, StatePrefixAdamM) || strings.HasPrefix(ct.Name, StatePrefixAdamV) || strings.HasPrefix(ct.Name, StatePrefixEMA) {
			continue
		}
		out[ct.Name] = &Tensor{DType: Float32, Shape: ct.Shape, Float32: ct.Data}
	}
	return out, nil
}

// ReadCheckpointEMA returns the moving averages of the weights held in a
// checkpoint written by Trainer.Save (AdamWConfig.EMADecay > 0), by
// parameter name, as Trainer.Weights(true) would return them after Load.
// A checkpoint without averages is an ErrArgument.
func ReadCheckpointEMA(path string) (map[string]*Tensor, error) {
	cf, err := readCheckpointFile(path, "read checkpoint")
	if err != nil {
		return nil, err
	}
	out := map[string]*Tensor{}
	for _, ct := range cf.Tensors {
		if name, ok := strings.CutPrefix(ct.Name, StatePrefixEMA); ok {
			out[name] = &Tensor{DType: Float32, Shape: ct.Shape, Float32: ct.Data}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("onnxexport: read checkpoint %s: %w: it keeps no weight averages", path, ErrArgument)
	}
	return out, nil
}

// readCheckpointFile reads and decodes a file written by Trainer.Save;
// what names the operation in the error of a file that cannot be read.
func readCheckpointFile(path, what string) (*checkpointFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnxexport: %s: %w", what, err)
	}
	if !bytes.HasPrefix(data, []byte(checkpointMagic)) {
		return nil, &FormatError{Path: path, Reason: "not an imagegen training checkpoint (bad header)"}
	}
	var cf checkpointFile
	if err := gob.NewDecoder(bytes.NewReader(data[len(checkpointMagic):])).Decode(&cf); err != nil {
		return nil, &FormatError{Path: path, Reason: "checkpoint body: " + err.Error()}
	}
	return &cf, nil
}
