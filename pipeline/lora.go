package pipeline

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/graphopt"
	"github.com/imagegen/imagegen/lora"
	"github.com/imagegen/imagegen/onnx_export/onnxpb"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/textinversion"
)

// LoRA names a LoRA file and the strength it is applied at (1 = as
// trained, 0 = not at all).
type LoRA struct {
	Path  string
	Scale float64
}

// ErrLoRA is returned (wrapped) by Load for a LoRA that cannot apply to the
// checkpoint: no key names one of its weights (a LoRA for another
// architecture), or, with Options.StrictLoRA, some keys do not.
var ErrLoRA = errors.New("pipeline: LoRA does not fit this checkpoint")

// maxProtoBytes is the protobuf size limit a merged graph must stay under
// (merged weights travel inside it).
const maxProtoBytes = 2<<30 - 1

// loadLoRAs reads the LoRA files and sorts their adapters by the component
// folder they change, after checking each against that component's graph:
// keys that match no weight are reported through notice (an error with
// strict), a file none of whose keys match is an error.
func loadLoRAs(dir, denoiser string, loras []LoRA, strict bool, notice func(string)) (map[string][]lora.Scaled, error) {
	byComponent := map[string][]lora.Scaled{}
	indexes := map[string]*lora.Index{}
	var unet struct {
		LayersPerBlock int      `json:"layers_per_block"`
		DownBlockTypes []string `json:"down_block_types"`
		UpBlockTypes   []string `json:"up_block_types"`
	}
	if err := readJSON(filepath.Join(dir, denoiser, "config.json"), &unet); err != nil {
		return nil, err
	}
	layout := lora.NewUNetLayout(unet.LayersPerBlock, unet.DownBlockTypes, unet.UpBlockTypes)
	for _, l := range loras {
		f, err := lora.Load(l.Path)
		if err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
		unknown := append([]string(nil), f.Unknown...)
		matched := 0
		for _, a := range f.Adapters {
			component := a.Component
			if component == "unet" {
				component = denoiser
			}
			idx, err := componentIndex(indexes, dir, component)
			if err != nil {
				return nil, err
			}
			if idx != nil && !idx.Matches(a.Module) && a.Component == "unet" {
				// kohya's SDXL LoRAs name UNet modules as Stability's code does.
				if d, ok := layout.Diffusers(a.Module); ok && idx.Matches(d) {
					renamed := *a
					renamed.Module = d
					a = &renamed
				}
			}
			if idx == nil || !idx.Matches(a.Module) {
				unknown = append(unknown, a.Key)
				continue
			}
			matched++
			byComponent[component] = append(byComponent[component], lora.Scaled{Adapter: a, Scale: l.Scale})
		}
		sort.Strings(unknown)
		switch {
		case matched == 0:
			return nil, fmt.Errorf("%w: %s: none of its %d adapters names a weight of %s (a LoRA for another architecture?)",
				ErrLoRA, l.Path, len(f.Adapters), dir)
		case len(unknown) > 0 && strict:
			return nil, fmt.Errorf("%w: %s: %d keys match no weight: %s", ErrLoRA, l.Path, len(unknown), strings.Join(unknown, ", "))
		case len(unknown) > 0 && notice != nil:
			notice(fmt.Sprintf("LoRA %s: %d of its keys match no weight and are ignored: %s", filepath.Base(l.Path), len(unknown), strings.Join(unknown, ", ")))
		}
	}
	return byComponent, nil
}

// componentIndex returns (and caches) the LoRA index of a component's
// graph, or nil when the checkpoint has no such component.
func componentIndex(cache map[string]*lora.Index, dir, component string) (*lora.Index, error) {
	if idx, ok := cache[component]; ok {
		return idx, nil
	}
	path := filepath.Join(dir, component, "model.onnx")
	if !fileExists(path) {
		cache[component] = nil
		return nil, nil
	}
	m, err := readGraph(path)
	if err != nil {
		return nil, err
	}
	cache[component] = lora.NewIndex(m)
	return cache[component], nil
}

func readGraph(path string) (*onnxpb.ModelProto, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("pipeline: %s: %w", path, err)
	}
	return m, nil
}

// openEdited opens the model at path with the LoRA adapters merged into
// its weights and rows appended to its token embedding table (textual
// inversion), in memory: the changed weights travel inside the graph
// handed to ONNX Runtime, the others stay in the model's external data;
// nothing is written to disk.
func openEdited(path string, adapters []lora.Scaled, rows []float32, opts ort.Options) (*ort.Session, error) {
	m, err := readGraph(path)
	if err != nil {
		return nil, err
	}
	if _, err := lora.Merge(m, filepath.Dir(path), adapters); err != nil {
		return nil, fmt.Errorf("pipeline: %s: %w", path, err)
	}
	if len(rows) > 0 {
		if _, err := textinversion.AddTokens(m, filepath.Dir(path), rows); err != nil {
			return nil, fmt.Errorf("pipeline: %s: %w", path, err)
		}
	}
	graphopt.FuseAttention(m) // as openSession does; a graph it cannot fuse runs as is
	data, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %s: %w", path, err)
	}
	if len(data) > maxProtoBytes {
		return nil, fmt.Errorf("pipeline: %s: with the merged weights the graph is %d bytes, over ONNX's 2 GiB limit", path, len(data))
	}
	cfg := map[string]string{"session.model_external_initializers_file_folder_path": filepath.Dir(path)}
	maps.Copy(cfg, opts.Config)
	opts.Config = cfg
	return ort.OpenBytes(path, data, opts)
}

// SetLoRAs replaces the LoRAs merged into a latent-diffusion pipeline's
// weights. Only the sessions whose adapters change are rebuilt: a new
// text-encoder LoRA leaves the UNet's session as it was. On error the
// pipeline keeps its previous LoRAs.
func (p *Pipeline) SetLoRAs(loras []LoRA) error {
	d, ok := p.impl.(*diffusionPipeline)
	if !ok {
		return fmt.Errorf("%w: LoRAs apply to latent-diffusion checkpoints, not %s", ErrNotSupported, p.family)
	}
	return d.setLoRAs(loras)
}

func (p *diffusionPipeline) setLoRAs(loras []LoRA) error {
	byComponent, err := loadLoRAs(p.dir, p.denoiserName, loras, p.opts.StrictLoRA, p.opts.Session.Notice)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("pipeline: %s: SetLoRAs on a closed pipeline", p.dir)
	}
	old := p.loras
	p.loras = byComponent
	type swap struct {
		slot **ort.Session
		next *ort.Session
	}
	var swaps []swap
	components := map[**ort.Session]string{}
	want := func(slot **ort.Session, component string) {
		if *slot != nil && !sameAdapters(old[component], byComponent[component]) {
			swaps = append(swaps, swap{slot: slot})
			components[slot] = component
		}
	}
	want(&p.denoiser, p.denoiserName)
	for _, e := range p.encoders {
		if e != nil {
			want(&e.sess, e.name)
		}
	}
	// Open every changed session before swapping any, so a failure leaves
	// the pipeline as it was. Sessions not open now (low-memory mode)
	// pick the new adapters up when they next open.
	for i := range swaps {
		ns, err := p.open(components[swaps[i].slot])
		if err != nil {
			for _, s := range swaps[:i] {
				s.next.Close()
			}
			p.loras = old
			return err
		}
		swaps[i].next = ns
	}
	for _, s := range swaps {
		(*s.slot).Close()
		*s.slot = s.next
	}
	return nil
}

// sameAdapters reports whether two adapter lists merge the same updates.
func sameAdapters(a, b []lora.Scaled) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || a[i].Scale != b[i].Scale || !sameFloats(a[i].Up, b[i].Up) || !sameFloats(a[i].Down, b[i].Down) ||
			!sameFloats(a[i].Up2, b[i].Up2) || !sameFloats(a[i].Down2, b[i].Down2) {
			return false
		}
	}
	return true
}

func sameFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
