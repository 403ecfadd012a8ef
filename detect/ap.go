package detect

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// ErrNoPositives is returned by AveragePrecision when no example is
// positive (precision is then undefined at every recall).
var ErrNoPositives = errors.New("detect: average precision needs at least one positive example")

// AveragePrecision returns the area under the precision-recall curve of
// scores (higher = more likely positive) against labels, as the step sum
// Σ (Rₙ − Rₙ₋₁)·Pₙ over the distinct score thresholds from high to low,
// the definition scikit-learn's average_precision_score uses: examples
// with equal scores enter together, so ties never favor either class.
func AveragePrecision(scores []float64, positive []bool) (float64, error) {
	if len(scores) != len(positive) {
		return 0, fmt.Errorf("detect: average precision: %d scores, %d labels", len(scores), len(positive))
	}
	order := make([]int, len(scores))
	npos := 0
	for i, s := range scores {
		if math.IsNaN(s) {
			return 0, fmt.Errorf("detect: average precision: score %d is NaN", i)
		}
		order[i] = i
		if positive[i] {
			npos++
		}
	}
	if npos == 0 {
		return 0, ErrNoPositives
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	ap, tp, seen, prevRecall := 0.0, 0, 0, 0.0
	for i := 0; i < len(order); {
		j := i
		for j < len(order) && scores[order[j]] == scores[order[i]] {
			if positive[order[j]] {
				tp++
			}
			j++
		}
		seen += j - i
		recall := float64(tp) / float64(npos)
		ap += (recall - prevRecall) * float64(tp) / float64(seen)
		prevRecall = recall
		i = j
	}
	return ap, nil
}
