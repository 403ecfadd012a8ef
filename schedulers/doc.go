// Package schedulers implements the diffusers samplers imagegen's pipelines
// drive: DDPM, DDIM, PNDM (PLMS), LCM, Euler, Euler ancestral, Heun,
// DPM-Solver multistep (DPM++ 2M / SDE), UniPC and flow-matching Euler.
//
// A scheduler is built from a checkpoint's scheduler/scheduler_config.json
// exactly as diffusers' from_config builds it (Load, ParseConfig), or from a
// class or friendly name with its defaults (ByName, DefaultConfig). The
// resulting Scheduler lists timesteps, scales model inputs and steps latents
// held in flat []float32 buffers; Step allocates nothing once its scratch
// buffers exist, and stochastic samplers draw their noise through the Noise
// interface in the order diffusers calls its generator.
//
// The package is not a pipeline: it runs no model, owns no latents beyond
// per-run scratch and multistep history, and does not implement the seeded
// torch generator (package rng does). Its noise schedules are plain float64
// tables computed with numpy/torch's float32 rounding, so that timesteps
// match diffusers value for value.
package schedulers
