package onnxexport_test

import (
	"errors"
	"fmt"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

func ExampleBuilder_Gradients() {
	b := onnxexport.NewBuilder("grad")
	x := b.Input("x", onnxexport.Float32, onnxexport.D(2), onnxexport.D(3))
	w := b.Param("w", onnxexport.NewFloat32([]int64{3}, []float32{1, 2, 3}))
	loss := b.ReduceMean(b.Mul(x, w), false)
	grads, err := b.Gradients(loss, []*onnxexport.Value{w})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("d loss / d w:", grads[0].Shape())

	// Ops without a rule are named with their node.
	b2 := onnxexport.NewBuilder("bad")
	v := b2.Input("v", onnxexport.Float32, onnxexport.D(3))
	y := b2.Op("Softplus", []*onnxexport.Value{v}, nil, onnxexport.ValueType{DType: onnxexport.Float32, Shape: v.Shape()})[0]
	_, err = b2.Gradients(b2.ReduceSum(y, false), []*onnxexport.Value{v})
	fmt.Println(errors.Is(err, onnxexport.ErrNoGradient), err)
	// Output:
	// d loss / d w: [3]
	// true onnxexport: gradient of Softplus node /Softplus_1: no gradient rule
}

func ExampleLRSchedule_At() {
	s := onnxexport.LRSchedule{Peak: 1e-3, Min: 1e-4, Warmup: 100, Total: 1000}
	for _, step := range []int{1, 50, 100, 550, 1000} {
		fmt.Printf("step %4d: lr %.2e\n", step, s.At(step))
	}
	// Output:
	// step    1: lr 1.00e-05
	// step   50: lr 5.00e-04
	// step  100: lr 1.00e-03
	// step  550: lr 5.50e-04
	// step 1000: lr 1.00e-04
}

// A gradient penalty differentiates a gradient: Gradients appends the
// backward pass to the same builder, so the penalty built from it is an
// ordinary value that a second Gradients call (or NewTrainGraph)
// differentiates again. Here R1 of a one-layer critic D(x) = sum(w·x):
// ‖∇_x D‖² = ‖w‖² per example, so d R1 / d w = 2·batch·w.
func ExampleBuilder_Gradients_secondOrder() {
	b := onnxexport.NewBuilder("r1")
	x := b.Input("x", onnxexport.Float32, onnxexport.D(2), onnxexport.D(3))
	w := b.Param("w", onnxexport.NewFloat32([]int64{3}, []float32{1, 2, 3}))
	d := b.LeakyRelu(b.ReduceSum(b.Mul(x, w), false, 1), 0.2)
	gx, err := b.Gradients(b.ReduceSum(d, false), []*onnxexport.Value{x})
	if err != nil {
		fmt.Println(err)
		return
	}
	r1 := b.ReduceSum(b.Mul(gx[0], gx[0]), false)
	gw, err := b.Gradients(r1, []*onnxexport.Value{w})
	fmt.Println("d R1 / d w:", gw[0].Shape(), err)
	// Output:
	// d R1 / d w: [3] <nil>
}
