package ortlib_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/imagegen/imagegen/ortlib"
)

// A path given with --ort-lib wins over the environment and the cache; a
// wrong one is reported with where it came from.
func ExampleLocate() {
	dir, err := os.MkdirTemp("", "ortlib-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	lib := filepath.Join(dir, "libonnxruntime.so.1")
	if err := os.WriteFile(lib, []byte("\x7fELF"), 0o755); err != nil {
		fmt.Println(err)
		return
	}

	path, err := ortlib.Locate(ortlib.Options{Path: lib})
	fmt.Println(path == lib, err)

	_, err = ortlib.Locate(ortlib.Options{Path: filepath.Join(dir, "missing.so")})
	fmt.Println(strings.ReplaceAll(err.Error(), dir, "DIR"))
	// Output:
	// true <nil>
	// ortlib: ONNX Runtime library from --ort-lib: stat DIR/missing.so: no such file or directory
}
