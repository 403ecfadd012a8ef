package schedulers_test

import (
	"fmt"

	"github.com/imagegen/imagegen/schedulers"
)

// Flux and SD3 pipelines shift their flow-matching schedule by a mu that
// grows with the number of image tokens.
func ExampleCalculateShift() {
	for _, tokens := range []int{256, 1024, 4096} {
		fmt.Printf("%d tokens: mu %.4f\n", tokens, schedulers.CalculateShift(tokens, 256, 4096, 0.5, 1.15))
	}
	// Output:
	// 256 tokens: mu 0.5000
	// 1024 tokens: mu 0.6300
	// 4096 tokens: mu 1.1500
}

// A DPM-Solver++ 2M schedule with the class defaults.
func ExampleByName_dpmSolver() {
	s, err := schedulers.ByName("DPM++ 2M")
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.SetTimesteps(schedulers.TimestepParams{Steps: 5}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Timesteps())
	// Output: [999 799 599 400 200]
}

// Flux passes its own sigmas and the dynamic-shifting mu.
func ExampleByName_flowMatch() {
	cfg, err := schedulers.DefaultConfig(schedulers.ClassFlowMatchEulerDiscrete)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := cfg.ApplyOverrides([]string{"use_dynamic_shifting=true"}); err != nil {
		fmt.Println(err)
		return
	}
	s, err := schedulers.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	mu := schedulers.CalculateShift(4096, 256, 4096, 0.5, 1.15)
	p := schedulers.TimestepParams{Steps: 4, Sigmas: []float64{1, 0.75, 0.5, 0.25}, Mu: &mu}
	if err := s.SetTimesteps(p); err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range s.Timesteps() {
		fmt.Printf("%.1f ", t)
	}
	fmt.Println()
	// Output: 1000.0 904.5 759.5 512.8
}
