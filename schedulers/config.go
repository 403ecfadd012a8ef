package schedulers

// BetaSchedule names how betas are spaced over the training timesteps.
type BetaSchedule string

// Beta schedules diffusers offers.
const (
	BetaLinear       BetaSchedule = "linear"
	BetaScaledLinear BetaSchedule = "scaled_linear"
	BetaCosine       BetaSchedule = "squaredcos_cap_v2"
)

// PredictionType names what the model predicts.
type PredictionType string

// Prediction types.
const (
	PredictEpsilon PredictionType = "epsilon"
	PredictV       PredictionType = "v_prediction"
	PredictSample  PredictionType = "sample"
	PredictFlow    PredictionType = "flow_prediction"
)

// TimestepSpacing names how inference timesteps are picked.
type TimestepSpacing string

// Timestep spacings.
const (
	SpacingLeading  TimestepSpacing = "leading"
	SpacingTrailing TimestepSpacing = "trailing"
	SpacingLinspace TimestepSpacing = "linspace"
)

// Config is a diffusers scheduler_config.json decoded into one typed struct.
// It is the union of the keys of every scheduler class this package
// implements; each class reads the keys it knows. Values are always the
// resolved ones: keys absent from the file hold the class's default.
//
// Optional numbers diffusers writes as null are pointers (nil = null).
type Config struct {
	ClassName string `json:"_class_name"`

	NumTrainTimesteps   int             `json:"num_train_timesteps"`
	BetaStart           float64         `json:"beta_start"`
	BetaEnd             float64         `json:"beta_end"`
	BetaSchedule        BetaSchedule    `json:"beta_schedule"`
	TrainedBetas        []float64       `json:"trained_betas"`
	PredictionType      PredictionType  `json:"prediction_type"`
	TimestepSpacing     TimestepSpacing `json:"timestep_spacing"`
	StepsOffset         int             `json:"steps_offset"`
	RescaleBetasZeroSNR bool            `json:"rescale_betas_zero_snr"`

	// DDPM / DDIM / PNDM / LCM.
	ClipSample               bool    `json:"clip_sample"`
	ClipSampleRange          float64 `json:"clip_sample_range"`
	SetAlphaToOne            bool    `json:"set_alpha_to_one"`
	SkipPRKSteps             bool    `json:"skip_prk_steps"`
	VarianceType             *string `json:"variance_type"`
	Thresholding             bool    `json:"thresholding"`
	DynamicThresholdingRatio float64 `json:"dynamic_thresholding_ratio"`
	SampleMaxValue           float64 `json:"sample_max_value"`

	// LCM.
	OriginalInferenceSteps int     `json:"original_inference_steps"`
	TimestepScaling        float64 `json:"timestep_scaling"`

	// Euler / Heun / DPM-Solver / UniPC sigma schedules.
	InterpolationType    string   `json:"interpolation_type"`
	UseKarrasSigmas      bool     `json:"use_karras_sigmas"`
	UseExponentialSigmas bool     `json:"use_exponential_sigmas"`
	UseBetaSigmas        bool     `json:"use_beta_sigmas"`
	BetaSigmaAlpha       float64  `json:"-"` // fixed 0.6 in diffusers
	SigmaMin             *float64 `json:"sigma_min"`
	SigmaMax             *float64 `json:"sigma_max"`
	TimestepType         string   `json:"timestep_type"`
	FinalSigmasType      string   `json:"final_sigmas_type"`
	ClipDenoised         bool     `json:"clip_denoised"`

	// DPM-Solver multistep / UniPC.
	SolverOrder       int      `json:"solver_order"`
	AlgorithmType     string   `json:"algorithm_type"`
	SolverType        string   `json:"solver_type"`
	LowerOrderFinal   bool     `json:"lower_order_final"`
	EulerAtFinal      bool     `json:"euler_at_final"`
	UseLuLambdas      bool     `json:"use_lu_lambdas"`
	UseFlowSigmas     bool     `json:"use_flow_sigmas"`
	FlowShift         float64  `json:"flow_shift"`
	LambdaMinClipped  float64  `json:"lambda_min_clipped"` // may be -Infinity
	PredictX0         bool     `json:"predict_x0"`
	DisableCorrector  []int    `json:"disable_corrector"`
	SolverP           *string  `json:"solver_p"`
	UseDynamicShift   bool     `json:"use_dynamic_shifting"`
	TimeShiftType     string   `json:"time_shift_type"`
	Shift             float64  `json:"shift"`
	BaseShift         float64  `json:"base_shift"`
	MaxShift          float64  `json:"max_shift"`
	BaseImageSeqLen   int      `json:"base_image_seq_len"`
	MaxImageSeqLen    int      `json:"max_image_seq_len"`
	InvertSigmas      bool     `json:"invert_sigmas"`
	ShiftTerminal     *float64 `json:"shift_terminal"`
	StochasticSampler bool     `json:"stochastic_sampling"`
}
