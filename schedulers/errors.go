package schedulers

import "errors"

// Sentinel errors for bad input. Every error this package returns wraps one
// of them (test with errors.Is) and carries a "schedulers:" prefix.
var (
	// ErrUnknownClass is returned by New, Load, ByName and ParseConfig for a
	// scheduler class or friendly name this package does not implement.
	ErrUnknownClass = errors.New("schedulers: unknown scheduler class")
	// ErrUnknownOption is returned by Load and ApplyOverrides for an
	// override key the chosen class does not accept.
	ErrUnknownOption = errors.New("schedulers: unknown option")
	// ErrInvalidConfig is returned by Validate, New and Load for a value the
	// class cannot honor (an unknown enum value, an out-of-range number, a
	// malformed scheduler_config.json).
	ErrInvalidConfig = errors.New("schedulers: invalid config")
	// ErrInvalidSteps is returned by SetTimesteps and Img2ImgBegin for a
	// step count below 1 (or above what the schedule allows).
	ErrInvalidSteps = errors.New("schedulers: invalid number of steps")
	// ErrInvalidStrength is returned by Img2ImgBegin and SetTimesteps for an
	// img2img strength outside (0, 1].
	ErrInvalidStrength = errors.New("schedulers: strength must be in (0, 1]")
	// ErrBadInput is returned by Step for buffers whose sizes do not match,
	// an evaluation index out of range, or a Step before SetTimesteps.
	ErrBadInput = errors.New("schedulers: bad step input")
)
