package quantize

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/graphopt"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/onnx_export/onnxpb"
)

// Sentinel errors of Checkpoint, wrapped with the details.
var (
	// ErrExists: the output folder exists and is not empty (Options.Force
	// replaces it).
	ErrExists = errors.New("quantize: output folder exists and is not empty")
	// ErrArgument: bad options, an unknown component, or a source folder
	// that is not an ONNX checkpoint.
	ErrArgument = errors.New("quantize: bad argument")
)

// DefaultAccuracyLevel is the MatMulNBits accuracy_level Checkpoint writes
// unless told otherwise. On the SD 1.5 UNet at 256x256 (README:
// Quantization), level 4 halved the 8-bit step time against the attribute
// left unset (33.4 → 15.9 s at the same load: ONNX Runtime 1.29 takes a
// slow path for 8-bit weights in float32) for 1.9 dB of PSNR (55.7 →
// 53.8 dB against float32); at 4 bits the picture stayed within 0.1 dB.
const DefaultAccuracyLevel = 4

// modelFile is the file name of a component's graph in Optimum folders.
const modelFile = "model.onnx"

// Options configure Checkpoint.
type Options struct {
	Bits      int // 4 or 8
	BlockSize int // power of two, at least 16; 0 means graphopt's default (32)
	// MinWeights is the element count below which a weight stays float;
	// 0 means the default (16384), negative quantizes every one.
	MinWeights int64
	// AccuracyLevel is MatMulNBits' accuracy_level: 1 computes in float32
	// (weights dequantized), 4 lets ONNX Runtime quantize the activations
	// to int8 per block and multiply integers; 0 means DefaultAccuracyLevel.
	AccuracyLevel int
	// Components names the subfolders to quantize (unet, text_encoder, …);
	// empty means every subfolder that has a model.onnx. The others are
	// copied as they are.
	Components []string
	// Conv also turns float32 convolutions into ONNX Runtime's
	// ConvInteger: int8 weights (one scale per output channel) and
	// activations quantized to uint8 at run time. Off by default: it
	// quantizes activations, unlike the rest (README: Quantization).
	Conv bool
	// Force replaces an existing non-empty output folder.
	Force bool
	// Progress, when set, is called as each component starts (Done false)
	// and when it is written (Done true, with its figures).
	Progress func(ComponentReport)
}

// ComponentReport is what Checkpoint did to one component.
type ComponentReport struct {
	Component   string
	Done        bool
	Quantized   int   // MatMul/Gemm nodes now MatMulNBits
	Kept        int   // constant-weight MatMuls left float (too small)
	Convs       int   // Conv nodes now ConvInteger (Options.Conv)
	FloatBytes  int64 // bytes of the float weights replaced
	PackedBytes int64 // bytes of codes, scales and zero points written instead
	InBytes     int64 // the component's model files before
	OutBytes    int64 // and after
}

// Checkpoint writes a quantized copy of the checkpoint folder src to dst.
// The copy is assembled in a temporary folder beside dst and renamed into
// place, so dst never holds half a checkpoint; an existing dst must be
// empty unless opt.Force is set. It returns a report per quantized
// component.
func Checkpoint(src, dst string, opt Options) ([]ComponentReport, error) {
	if opt.AccuracyLevel == 0 {
		opt.AccuracyLevel = DefaultAccuracyLevel
	}
	gopt := graphopt.NBitsOptions{Bits: opt.Bits, BlockSize: opt.BlockSize, MinWeights: opt.MinWeights, AccuracyLevel: opt.AccuracyLevel}.WithDefaults()
	if err := gopt.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrArgument, err)
	}
	components, err := selectComponents(src, opt.Components)
	if err != nil {
		return nil, err
	}
	if err := checkDestination(src, dst, opt.Force); err != nil {
		return nil, err
	}
	parent := filepath.Dir(filepath.Clean(dst))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	defer os.RemoveAll(tmp)
	var reports []ComponentReport
	written := map[string]bool{} // files of src already written (quantized models and their data)
	for _, c := range components {
		if opt.Progress != nil {
			opt.Progress(ComponentReport{Component: c})
		}
		rep, files, err := quantizeModel(filepath.Join(src, c, modelFile), filepath.Join(tmp, c, modelFile), gopt, opt.Conv)
		if err != nil {
			return nil, fmt.Errorf("quantize: %s: %w", c, err)
		}
		rep.Component, rep.Done = c, true
		for _, f := range files {
			written[filepath.Join(c, f)] = true
		}
		reports = append(reports, rep)
		if opt.Progress != nil {
			opt.Progress(rep)
		}
	}
	if err := copyRest(src, tmp, written); err != nil {
		return nil, fmt.Errorf("quantize: copy %s: %w", src, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	if err := replaceDir(tmp, dst); err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	return reports, nil
}

// selectComponents returns the subfolders of src to quantize.
func selectComponents(src string, want []string) ([]string, error) {
	entries, err := os.ReadDir(src)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrArgument, err)
	}
	var have []string
	for _, e := range entries {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(src, e.Name(), modelFile)); err == nil {
				have = append(have, e.Name())
			}
		}
	}
	if len(have) == 0 {
		return nil, fmt.Errorf("%w: %s has no component folder with a %s (want an ONNX checkpoint folder such as `imagegen export` or `imagegen pull` writes)", ErrArgument, src, modelFile)
	}
	if len(want) == 0 {
		return have, nil
	}
	var out []string
	for _, c := range want {
		c = strings.TrimSpace(c)
		if !slices.Contains(have, c) {
			return nil, fmt.Errorf("%w: no component %q in %s (it has %s)", ErrArgument, c, src, strings.Join(have, ", "))
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// checkDestination refuses a dst that is src, lies inside it, or is a
// non-empty folder (unless force).
func checkDestination(src, dst string, force bool) error {
	as, err1 := filepath.Abs(src)
	ad, err2 := filepath.Abs(dst)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	if ad == as || strings.HasPrefix(ad, as+string(filepath.Separator)) {
		return fmt.Errorf("%w: output folder %s is inside the source %s", ErrArgument, dst, src)
	}
	st, err := os.Stat(dst)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: %s is a file", ErrExists, dst)
	}
	entries, err := os.ReadDir(dst)
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	if len(entries) > 0 && !force {
		return fmt.Errorf("%w: %s (use --force to replace it)", ErrExists, dst)
	}
	return nil
}

// quantizeModel writes the quantized model at src to dst and returns the
// names (relative to src's folder) of the source files it replaces: the
// model and the external data files its initializers named.
func quantizeModel(src, dst string, opt graphopt.NBitsOptions, conv bool) (ComponentReport, []string, error) {
	var rep ComponentReport
	data, err := os.ReadFile(src)
	if err != nil {
		return rep, nil, err
	}
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		return rep, nil, &onnxexport.FormatError{Path: src, Reason: "protobuf: " + err.Error()}
	}
	data = nil
	dir := filepath.Dir(src)
	opt.Dir = dir
	nrep, err := graphopt.QuantizeMatMul(m, opt)
	if err != nil {
		return rep, nil, err
	}
	rep.Quantized, rep.Kept, rep.FloatBytes, rep.PackedBytes = nrep.Quantized, nrep.Kept, nrep.FloatBytes, nrep.PackedBytes
	kind := fmt.Sprintf("MatMulNBits bits=%d block_size=%d", opt.Bits, opt.BlockSize)
	if conv {
		crep, err := graphopt.QuantizeConv(m, graphopt.ConvOptions{MinWeights: opt.MinWeights, Dir: dir})
		if err != nil {
			return rep, nil, err
		}
		rep.Convs = crep.Quantized
		rep.FloatBytes += crep.FloatBytes
		rep.PackedBytes += crep.PackedBytes
		kind += "; ConvInteger uint8"
	}
	files := []string{modelFile}
	dataFile, err := inlineExternal(m, dir)
	if err != nil {
		return rep, nil, err
	}
	if dataFile != "" {
		files = append(files, dataFile)
	}
	for _, f := range files {
		if st, err := os.Stat(filepath.Join(dir, f)); err == nil {
			rep.InBytes += st.Size()
		}
	}
	m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{
		Key:   proto.String("imagegen.quantized"),
		Value: proto.String(kind),
	})
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return rep, nil, err
	}
	var saveOpts []onnxexport.SaveOption
	if dataFile != "" { // keep the layout: weights beside the graph, under the same name
		saveOpts = append(saveOpts, onnxexport.WithExternalDataName(dataFile))
	}
	if err := onnxexport.Save(dst, m, saveOpts...); err != nil {
		return rep, nil, err
	}
	for _, f := range files {
		if st, err := os.Stat(filepath.Join(filepath.Dir(dst), f)); err == nil {
			rep.OutBytes += st.Size()
		}
	}
	return rep, files, nil
}

// inlineExternal reads the external data of m's initializers into the
// protobuf, so Save can write them anew, and returns the one file they
// came from ("" when none). Models whose weights are spread over several
// files (one per tensor, as torch.onnx writes) are written with one.
func inlineExternal(m *onnxpb.ModelProto, dir string) (string, error) {
	var first string
	for _, tp := range m.GetGraph().GetInitializer() {
		if tp.GetDataLocation() != onnxpb.TensorProto_EXTERNAL {
			continue
		}
		for _, kv := range tp.ExternalData {
			if kv.GetKey() == "location" && first == "" {
				first = filepath.Base(kv.GetValue())
			}
		}
		t, err := onnxexport.DecodeTensor(tp, dir)
		if err != nil {
			return "", err
		}
		tp.RawData = onnxexport.EncodeTensor(tp.GetName(), t).RawData
		tp.DataLocation = nil
		tp.ExternalData = nil
	}
	return first, nil
}

// copyRest copies every file of src not in skip (paths relative to src)
// into dst, keeping the folder structure.
func copyRest(src, dst string, skip map[string]bool) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if skip[rel] || !d.Type().IsRegular() {
			return nil
		}
		return copyFile(path, filepath.Join(dst, rel))
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// replaceDir renames the finished folder tmp to dst, moving an existing
// dst aside first and removing it only once tmp is in place.
func replaceDir(tmp, dst string) error {
	if _, err := os.Stat(dst); errors.Is(err, os.ErrNotExist) {
		return os.Rename(tmp, dst)
	}
	old := tmp + ".old"
	if err := os.Rename(dst, old); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		if rerr := os.Rename(old, dst); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	return os.RemoveAll(old)
}
