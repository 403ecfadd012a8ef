package safetensors_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/safetensors"
)

func Example() {
	dir, _ := os.MkdirTemp("", "safetensors-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "lora.safetensors")
	err := safetensors.WriteFile(path, map[string]safetensors.Tensor{
		"lora_unet_to_q.alpha": {Shape: []int64{}, Data: []float32{4}},
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := safetensors.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	for _, name := range f.Names() {
		v, _ := f.Float32(name)
		info, _ := f.Info(name)
		fmt.Println(name, info.DType, info.Shape, v)
	}
	// Output: lora_unet_to_q.alpha F32 [] [4]
}
