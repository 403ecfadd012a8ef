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
