package schedulers

import "fmt"

// part2Constructor returns the constructor of a scheduler class implemented
// alongside this registry (Heun, DPM-Solver multistep, UniPC, flow-match
// Euler).
func part2Constructor(class string) constructor {
	switch class {
	case ClassDPMSolverMultistep:
		return newDPMSolverMultistep
	case ClassUniPCMultistep:
		return newUniPCMultistep
	case ClassHeun:
		return newHeunDiscrete
	case ClassFlowMatchEulerDiscrete:
		return newFlowMatchEulerDiscrete
	}
	return func(cfg *Config) (Scheduler, error) {
		return nil, fmt.Errorf("%w: %s is not implemented yet", ErrUnknownClass, class)
	}
}
