package pipeline

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Defaults are the generation settings a checkpoint suggests, read from
// model_index.json's "imagegen_defaults" object (imagegen's own key;
// diffusers ignores it). Zero values suggest nothing. They travel with the
// folder, so the Go API, the CLI and the server run a model alike; a
// models.yaml entry's defaults are applied before them by the CLI and the
// server and so win. Its fields are those of modelreg.Defaults, in the same
// order, so a registry entry's defaults convert with Defaults(d).
type Defaults struct {
	Scheduler string   `json:"scheduler,omitempty"`
	Steps     int      `json:"steps,omitempty"`
	Guidance  *float64 `json:"guidance,omitempty"`
	Width     int      `json:"width,omitempty"`
	Height    int      `json:"height,omitempty"`
}

func (d Defaults) validate() error {
	switch {
	case d.Steps < 0:
		return fmt.Errorf("imagegen_defaults: steps %d must not be negative", d.Steps)
	case d.Height < 0 || d.Width < 0:
		return fmt.Errorf("imagegen_defaults: size %dx%d must not be negative", d.Width, d.Height)
	case d.Guidance != nil && (math.IsNaN(*d.Guidance) || math.IsInf(*d.Guidance, 0)):
		return fmt.Errorf("imagegen_defaults: guidance must be a finite number")
	}
	return nil
}

// Apply fills the fields of r left at zero. Height and width are filled
// together, only when neither is given. Load applies the checkpoint's own
// defaults in Generate; callers apply other suggestions (a models.yaml
// entry's) before it.
func (d Defaults) Apply(r *Request) {
	if r.Scheduler == "" {
		r.Scheduler = d.Scheduler
	}
	if r.Steps == 0 {
		r.Steps = d.Steps
	}
	if r.Guidance == nil && d.Guidance != nil {
		g := *d.Guidance
		r.Guidance = &g
	}
	if r.Height == 0 && r.Width == 0 {
		r.Height, r.Width = d.Height, d.Width
	}
}

// checkScheduler refuses a scheduler class the checkpoint's
// imagegen_schedulers does not list (any class when it lists none).
func (idx *modelIndex) checkScheduler(class string) error {
	if idx == nil || len(idx.Schedulers) == 0 || slices.Contains(idx.Schedulers, class) {
		return nil
	}
	return badRequest("scheduler %s: this checkpoint was trained or distilled for %s only (model_index.json imagegen_schedulers)", class, strings.Join(idx.Schedulers, ", "))
}
