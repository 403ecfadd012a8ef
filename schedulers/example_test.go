package schedulers_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/schedulers"
)

// zeroNoise stands in for the run's seeded generator.
type zeroNoise struct{}

func (zeroNoise) Randn(dst []float32) { clear(dst) }

func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "sched")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "scheduler_config.json")
	os.WriteFile(path, []byte(`{"_class_name": "PNDMScheduler", "beta_schedule": "scaled_linear",
		"beta_start": 0.00085, "beta_end": 0.012, "steps_offset": 1, "skip_prk_steps": true}`), 0o644)

	// Swap the checkpoint's PNDM for DDIM, keeping its beta schedule.
	s, err := schedulers.Load(path, "DDIM", []string{"timestep_spacing=trailing"})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.SetTimesteps(schedulers.TimestepParams{Steps: 4}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Config().ClassName, s.Config().BetaSchedule, s.Timesteps())
	// Output: DDIMScheduler scaled_linear [999 749 499 249]
}

func ExampleScheduler() {
	s, err := schedulers.ByName("Euler a")
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.SetTimesteps(schedulers.TimestepParams{Steps: 3}); err != nil {
		fmt.Println(err)
		return
	}
	latents := []float32{1, -1, 0.5, 2}
	for i := range latents {
		latents[i] *= float32(s.InitNoiseSigma())
	}
	in, out := make([]float32, 4), make([]float32, 4)
	for i := range s.Timesteps() {
		s.ScaleModelInput(in, latents, i)
		copy(out, in) // a stand-in "model" predicting eps = its input
		if err := s.Step(latents, out, latents, i, zeroNoise{}); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println(s.Config().ClassName, len(s.Timesteps()), "steps")
	// Output: EulerAncestralDiscreteScheduler 3 steps
}

func ExampleImg2ImgBegin() {
	s, _ := schedulers.ByName("DDIM")
	s.SetTimesteps(schedulers.TimestepParams{Steps: 50})
	begin, err := schedulers.Img2ImgBegin(s, 50, 0.3)
	fmt.Println(begin, err, s.Timesteps()[begin])
	// Output: 35 <nil> 280
}
