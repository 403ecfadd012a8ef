package detect_test

import (
	"fmt"

	"github.com/imagegen/imagegen/detect"
)

// Average precision ranks pictures by score: here the generated ones
// (true) come 1st, 3rd and 5th.
func ExampleAveragePrecision() {
	scores := []float64{0.9, 0.8, 0.7, 0.6, 0.5}
	generated := []bool{true, false, true, false, true}
	ap, err := detect.AveragePrecision(scores, generated)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("AP %.4f = (1 + 2/3 + 3/5) / 3\n", ap)
	// Output:
	// AP 0.7556 = (1 + 2/3 + 3/5) / 3
}

// A logistic regression (no hidden layer) trained on one feature that
// separates the classes.
func ExampleTrain() {
	x := [][]float64{{0.1}, {0.2}, {0.3}, {0.7}, {0.8}, {0.9}}
	generated := []bool{false, false, false, true, true, true}
	m, err := detect.Train(x, generated, detect.TrainOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range []float64{0.0, 0.25, 0.75, 1.0} {
		p, _ := m.Probability([]float64{v})
		fmt.Printf("%.2f: generated %v\n", v, p >= 0.5)
	}
	// Output:
	// 0.00: generated false
	// 0.25: generated false
	// 0.75: generated true
	// 1.00: generated true
}
