package imageio

import "testing"

func TestInfotext(t *testing.T) {
	tests := []struct {
		name string
		p    GenerationParams
		want string
	}{
		{"full", GenerationParams{
			Prompt: "a castle on a mountain", NegativePrompt: "blurry, lowres",
			Steps: 20, Sampler: "Euler a", CFGScale: 7, Seed: 1234, Width: 512, Height: 768, Model: "v1-5-pruned",
		}, "a castle on a mountain\nNegative prompt: blurry, lowres\n" +
			"Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x768, Model: v1-5-pruned"},
		{"no negative, fractional cfg, schedule, hash", GenerationParams{
			Prompt: "cat", Steps: 4, Sampler: "DPM++ 2M", ScheduleType: "Karras", CFGScale: 7.5,
			Seed: 18446744073709551615, Width: 64, Height: 64, ModelHash: "abc123", Model: "m",
		}, "cat\nSteps: 4, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.5, " +
			"Seed: 18446744073709551615, Size: 64x64, Model hash: abc123, Model: m"},
		{"quoted values and extras", GenerationParams{
			Prompt: "p", Steps: 1, Sampler: "Euler", CFGScale: 1, Seed: 0, Width: 8, Height: 8,
			Model: "dir: \"x\", y", DenoisingStrength: 0.75,
			Extra: []Param{{"Version", "imagegen"}, {"Note", "a\nb\\c"}},
		}, `p` + "\n" + `Steps: 1, Sampler: Euler, CFG scale: 1, Seed: 0, Size: 8x8, Model: "dir: \"x\", y", ` +
			`Denoising strength: 0.75, Version: imagegen, Note: "a\nb\\c"`},
		{"empty prompt", GenerationParams{Steps: 1, Sampler: "Euler", CFGScale: 1, Seed: 2, Width: 8, Height: 8},
			"Steps: 1, Sampler: Euler, CFG scale: 1, Seed: 2, Size: 8x8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Infotext(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestQuoteInfotextControl(t *testing.T) {
	if got, want := quoteInfotext("a,\x01\t猫"), `"a,\u0001\t猫"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
