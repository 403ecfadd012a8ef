package trainrun

import (
	"context"
	"os"
	"path/filepath"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// CheckpointWeights returns the weights of State/name.ckpt (their EMA when
// ema is set) without training: a trainer resumes from a copy of the
// checkpoint in a temporary state folder, so that a run going on beside it
// keeps its CSV, and takes no step. data must have the length the run was
// started with; its examples are not drawn.
func CheckpointWeights(ctx context.Context, o Options, name string, g *onnxexport.TrainGraph, data onnxexport.Dataset, ema bool) (map[string]*onnxexport.Tensor, error) {
	raw, err := os.ReadFile(filepath.Join(o.State, name+".ckpt"))
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "trainrun-export-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, name+".ckpt"), raw, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, name+"_loss.csv"), []byte("step,loss,grad_norm,lr\n"), 0o644); err != nil {
		return nil, err
	}
	o.State = tmp
	o.AfterStep, o.AfterCheckpoint, o.OnResume = nil, nil, nil
	return Phase(ctx, o, name, g, data, 1, 1e-3, ema)
}
