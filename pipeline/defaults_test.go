package pipeline_test

import (
	"testing"

	"github.com/imagegen/imagegen/modelreg"
	"github.com/imagegen/imagegen/pipeline"
)

func TestDefaultsApply(t *testing.T) {
	three, seven := 3.0, 7.0
	d := pipeline.Defaults(modelreg.Defaults{Scheduler: "DDIM", Steps: 20, Guidance: &three, Width: 64, Height: 48})
	tests := []struct {
		name string
		req  pipeline.Request
		want pipeline.Request
	}{
		{"all unset", pipeline.Request{}, pipeline.Request{Scheduler: "DDIM", Steps: 20, Guidance: &three, Width: 64, Height: 48}},
		{"request wins", pipeline.Request{Scheduler: "Euler", Steps: 5, Guidance: &seven, Width: 32, Height: 32},
			pipeline.Request{Scheduler: "Euler", Steps: 5, Guidance: &seven, Width: 32, Height: 32}},
		{"a size given alone is kept alone", pipeline.Request{Width: 96}, pipeline.Request{Scheduler: "DDIM", Steps: 20, Guidance: &three, Width: 96}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req
			d.Apply(&r)
			if r.Scheduler != tt.want.Scheduler || r.Steps != tt.want.Steps || *r.Guidance != *tt.want.Guidance || r.Width != tt.want.Width || r.Height != tt.want.Height {
				t.Fatalf("got %s %d %v %dx%d, want %s %d %v %dx%d", r.Scheduler, r.Steps, *r.Guidance, r.Width, r.Height,
					tt.want.Scheduler, tt.want.Steps, *tt.want.Guidance, tt.want.Width, tt.want.Height)
			}
		})
	}
}
