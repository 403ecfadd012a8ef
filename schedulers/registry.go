package schedulers

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
)

// constructor builds one scheduler class from a resolved config.
type constructor func(cfg *Config) (Scheduler, error)

// constructors maps diffusers class names to constructors. It is never
// modified after initialization.
var constructors = map[string]constructor{
	ClassDDPM:                   newDDPM,
	ClassDDIM:                   newDDIM,
	ClassPNDM:                   newPNDM,
	ClassLCM:                    newLCM,
	ClassEuler:                  newEuler,
	ClassEulerAncestral:         newEulerAncestral,
	ClassHeun:                   part2Constructor(ClassHeun),
	ClassDPMSolverMultistep:     part2Constructor(ClassDPMSolverMultistep),
	ClassUniPCMultistep:         part2Constructor(ClassUniPCMultistep),
	ClassFlowMatchEulerDiscrete: part2Constructor(ClassFlowMatchEulerDiscrete),
}

// New constructs the scheduler cfg.ClassName names. cfg must hold resolved
// values (from ParseConfig, DefaultConfig or Load); it is validated and
// copied, so later changes to cfg do not affect the scheduler.
func New(cfg *Config) (Scheduler, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: nil config", ErrInvalidConfig)
	}
	ctor, ok := constructors[cfg.ClassName]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownClass, cfg.ClassName)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return ctor(cfg)
}

// ByName returns the default-configured scheduler for a diffusers class
// name or a friendly name (see Names), case-insensitively.
func ByName(name string) (Scheduler, error) {
	f, err := resolveName(name)
	if err != nil {
		return nil, err
	}
	c, err := DefaultConfig(f.class)
	if err != nil {
		return nil, err
	}
	if err := c.ApplyOverrides(f.options); err != nil {
		return nil, err
	}
	return New(c)
}

// Names returns the friendly sampler names, for help text.
func Names() []string {
	return []string{"Euler", "Euler a", "Heun", "DDIM", "DDPM", "PNDM", "UniPC", "LCM",
		"DPM++ 2M", "DPM++ 2M Karras", "DPM++ SDE Karras", "Flow Euler"}
}

// Load reads a checkpoint's scheduler_config.json and builds a scheduler
// from it. class picks another scheduler ("" keeps the file's): a
// diffusers class name or a friendly name. The file's keys are kept where
// the class accepts them (minus those it lists in _use_default_values),
// the rest take the class defaults, the friendly name's options apply
// next, and overrides ("key=value", see Config.Set) apply last.
func Load(configPath string, class string, overrides []string) (Scheduler, error) {
	cfg, err := LoadConfig(configPath, class, overrides)
	if err != nil {
		return nil, err
	}
	return New(cfg)
}

// LoadConfig is Load without constructing the scheduler.
func LoadConfig(configPath string, class string, overrides []string) (*Config, error) {
	data, err := os.ReadFile(configPath)
	if err != nil {
		return nil, fmt.Errorf("schedulers: load %s: %w", configPath, err)
	}
	var f friendly
	if strings.TrimSpace(class) != "" {
		if f, err = resolveName(class); err != nil {
			return nil, err
		}
	}
	cfg, err := ParseConfig(data, f.class)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", configPath, err)
	}
	if err := cfg.ApplyOverrides(slices.Concat(f.options, overrides)); err != nil {
		return nil, fmt.Errorf("load %s: %w", configPath, err)
	}
	return cfg, nil
}

// Img2ImgBegin returns the index into s.Timesteps() where img2img starts
// for the given strength, as diffusers' get_timesteps computes it:
// init = min(int(steps*strength), steps), tStart = max(steps-init, 0),
// begin = tStart*Order(). s must have been set up with steps. LCM shapes
// its schedule from TimestepParams.Strength instead and starts at 0.
func Img2ImgBegin(s Scheduler, steps int, strength float64) (int, error) {
	if steps < 1 {
		return 0, fmt.Errorf("%w: %d (need at least 1)", ErrInvalidSteps, steps)
	}
	if !(strength > 0 && strength <= 1) || math.IsNaN(strength) {
		return 0, fmt.Errorf("%w: got %v", ErrInvalidStrength, strength)
	}
	if _, ok := s.(*lcm); ok {
		return 0, nil
	}
	init := min(int(float64(steps)*strength), steps)
	begin := max(steps-init, 0) * s.Order()
	if begin >= len(s.Timesteps()) && len(s.Timesteps()) > 0 {
		return 0, fmt.Errorf("%w: strength %v leaves no step of %d", ErrInvalidStrength, strength, steps)
	}
	return begin, nil
}
