package hub_test

import (
	"fmt"

	"github.com/imagegen/imagegen/hub"
)

func ExampleParseRef() {
	for _, s := range []string{"stabilityai/sd-turbo", "hf:org/model@v1.0/onnx", "hf:org/model@refs%2Fpr%2F2"} {
		ref, err := hub.ParseRef(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("repo=%s revision=%q subfolder=%q\n", ref.Repo, ref.Revision, ref.Subfolder)
	}
	_, err := hub.ParseRef("hf:org/../etc")
	fmt.Println(err)
	// Output:
	// repo=stabilityai/sd-turbo revision="" subfolder=""
	// repo=org/model revision="v1.0" subfolder="onnx"
	// repo=org/model revision="refs/pr/2" subfolder=""
	// hub: invalid reference "hf:org/../etc": name ".." contains -- or ..
}

func ExampleFilter() {
	f := hub.Filter{Include: []string{"*.json", "unet/*"}, Exclude: []string{"*.onnx_data"}}
	for _, name := range []string{"model_index.json", "unet/model.onnx", "unet/model.onnx_data", "vae_decoder/model.onnx"} {
		fmt.Println(name, f.Match(name))
	}
	// Output:
	// model_index.json true
	// unet/model.onnx true
	// unet/model.onnx_data false
	// vae_decoder/model.onnx false
}
