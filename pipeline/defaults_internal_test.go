package pipeline

import (
	"errors"
	"testing"
)

func TestCheckScheduler(t *testing.T) {
	tests := []struct {
		name  string
		idx   *modelIndex
		class string
		ok    bool
	}{
		{"no index", nil, "DDPMScheduler", true},
		{"no list", &modelIndex{}, "DDPMScheduler", true},
		{"listed", &modelIndex{Schedulers: []string{"LCMScheduler"}}, "LCMScheduler", true},
		{"not listed", &modelIndex{Schedulers: []string{"LCMScheduler"}}, "DDPMScheduler", false},
		{"one of two", &modelIndex{Schedulers: []string{"FlowMatchEulerDiscreteScheduler", "LCMScheduler"}}, "FlowMatchEulerDiscreteScheduler", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.idx.checkScheduler(tt.class)
			if got := err == nil; got != tt.ok {
				t.Fatalf("checkScheduler(%s) = %v, want ok %v", tt.class, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBadRequest) {
				t.Errorf("error %v is not ErrBadRequest", err)
			}
		})
	}
}
