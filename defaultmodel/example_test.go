package defaultmodel_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/imagegen/imagegen/defaultmodel"
)

// ExampleDir writes the built-in model into a cache folder (once) and
// shows what pipeline.Load would open.
func ExampleDir() {
	cache, err := os.MkdirTemp("", "cache")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(cache)
	dir, err := defaultmodel.Dir(cache)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = os.Stat(filepath.Join(dir, "model_index.json"))
	d := defaultmodel.Defaults()
	fmt.Println(strings.HasPrefix(filepath.Base(dir), "imagegen-shapes-"), err == nil)
	fmt.Println(d.Scheduler, d.Width, d.Height)
	// Output:
	// true true
	// DDPMScheduler 128 128
}
