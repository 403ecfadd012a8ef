package jsonfile_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/internal/jsonfile"
)

func Example() {
	dir, _ := os.MkdirTemp("", "jsonfile")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "scheduler", "scheduler_config.json")
	if err := jsonfile.Write(path, map[string]any{"_class_name": "DDPMScheduler", "num_train_timesteps": 1000}); err != nil {
		fmt.Println(err)
		return
	}
	m, err := jsonfile.ReadMap(path)
	fmt.Println(m["_class_name"], m["num_train_timesteps"], err)
	// Output: DDPMScheduler 1000 <nil>
}
