package pipeline

import (
	"context"
	"fmt"

	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/rng"
)

// SVDUNetInputs returns the conditioning inputs the SVD UNet of p would
// get for r (not the sample and timestep), for the external tests.
func SVDUNetInputs(p *Pipeline, r Request) (map[string]ort.Tensor, error) {
	v, ok := p.impl.(*videoPipeline)
	if !ok || v.family != FamilySVD {
		return nil, fmt.Errorf("not an SVD pipeline")
	}
	p.defaults.Apply(&r)
	q, vr, err := v.resolveVideo(r)
	if err != nil {
		return nil, err
	}
	v.newRun(q, vr, nil)
	st, err := v.svdConditioning(context.Background(), vr, rng.New(q.Seed))
	if err != nil {
		return nil, err
	}
	return st.inputs, nil
}
