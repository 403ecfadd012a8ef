package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/pipeline"
)

// refCase is one diffusers text-to-image run from refs.json.
type refCase struct {
	Scheduler         string                     `json:"scheduler"`
	Config            map[string]json.RawMessage `json:"config"`
	Steps             int                        `json:"steps"`
	Guidance          float64                    `json:"guidance"`
	Prompt            any                        `json:"prompt"`
	Kwargs            map[string]any             `json:"kwargs"`
	Seed              uint64                     `json:"seed"`
	Height            int                        `json:"height"`
	Width             int                        `json:"width"`
	MaxSequenceLength int                        `json:"max_sequence_length"`
	Image             conformance.Array          `json:"image"`
	Latents           *conformance.Array         `json:"latents"`
	Timesteps         *conformance.Array         `json:"timesteps"`
}

var checkpointOf = map[string]string{
	"sd1": "sd1-tiny", "sd1lcm": "sd1-lcm-tiny", "sdxl": "sdxl-tiny", "sd3": "sd3-tiny", "flux": "flux-tiny",
}

// request turns a reference case into a Request: the scheduler config the
// reference ran with is passed as overrides, as a user would.
func (c *refCase) request(t *testing.T) pipeline.Request {
	t.Helper()
	r := pipeline.Request{Scheduler: c.Scheduler, Steps: c.Steps, Seed: c.Seed,
		Height: c.Height, Width: c.Width, MaxSequenceLength: c.MaxSequenceLength}
	g := c.Guidance
	r.Guidance = &g
	switch p := c.Prompt.(type) {
	case string:
		r.Prompts = []string{p}
	case []any:
		for _, s := range p {
			r.Prompts = append(r.Prompts, s.(string))
		}
	}
	keys := make([]string, 0, len(c.Config))
	for k := range c.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, "_") {
			continue
		}
		r.SchedulerOpts = append(r.SchedulerOpts, k+"="+string(c.Config[k]))
	}
	for k, v := range c.Kwargs {
		switch k {
		case "negative_prompt":
			r.NegativePrompt = v.(string)
		case "prompt_2":
			r.Prompt2 = v.(string)
		case "guidance_rescale":
			r.GuidanceRescale = v.(float64)
		case "eta":
			r.Eta = v.(float64)
		case "num_images_per_prompt":
			r.NumImages = int(v.(float64))
		default:
			t.Fatalf("reference kwarg %s not handled by the test", k)
		}
	}
	return r
}

func TestConformance(t *testing.T) {
	testort.Init(t)
	refs := conformance.Refs(t)
	var names []string
	for name := range refs {
		if fam, _, ok := strings.Cut(name, "/"); ok && checkpointOf[fam] != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	pipes := map[string]*pipeline.Pipeline{}
	defer func() {
		for _, p := range pipes {
			p.Close()
		}
	}()
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			var c refCase
			conformance.Case(t, name, &c)
			fam, _, _ := strings.Cut(name, "/")
			ck := checkpointOf[fam]
			p := pipes[ck]
			if p == nil {
				var err error
				p, err = pipeline.Load(context.Background(), conformance.Dir(t, ck), pipeline.Options{})
				if err != nil {
					t.Fatal(err)
				}
				pipes[ck] = p
			}
			res, err := p.Generate(context.Background(), c.request(t))
			if err != nil {
				t.Fatal(err)
			}
			if c.Timesteps != nil {
				compare(t, "timesteps", toF32(res.Timesteps), c.Timesteps.Float32(), 1e-3, 1e-3)
			}
			if c.Latents != nil {
				compare(t, "latents", res.Latents, c.Latents.Float32(), 5e-3, 1e-3)
			}
			compare(t, "image", res.Images, c.Image.Float32(), 5e-3, 1e-3)
		})
	}
}

func toF32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// compare checks got against want element by element: the largest absolute
// difference must stay within maxTol and the mean within meanTol.
func compare(t *testing.T, what string, got, want []float32, maxTol, meanTol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	var worst, sum float64
	at := 0
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		sum += d
		if d > worst {
			worst, at = d, i
		}
	}
	mean := sum / float64(len(want))
	msg := fmt.Sprintf("%s: max |diff| %.2e at %d (got %v, want %v), mean %.2e", what, worst, at, got[at], want[at], mean)
	if worst > maxTol || mean > meanTol {
		t.Error(msg)
	} else {
		t.Log(msg)
	}
}
