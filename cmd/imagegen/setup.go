package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/cpu"

	"github.com/imagegen/imagegen/modelreg"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
)

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "print ONNX Runtime version, execution providers, CPU features, cache and models.yaml files",
		Description: "Loads ONNX Runtime (installing it on first use) and reports what imagegen will run on.\n\n" +
			"Examples:\n   imagegen doctor\n   imagegen doctor --json",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print one JSON object"}},
		Action: func(c *cli.Context) error {
			rep := map[string]any{
				"imagegen":  version,
				"go":        runtime.Version(),
				"os_arch":   runtime.GOOS + "/" + runtime.GOARCH,
				"cpus":      runtime.NumCPU(),
				"cpu_flags": cpuFeatures(),
				"ort_cache": ortlib.DefaultCacheDir(),
			}
			var problems []string
			if err := initRuntime(c); err != nil {
				problems = append(problems, err.Error())
			} else {
				rep["ort_version"] = ort.Version()
				rep["ort_library"] = ort.LibraryPath()
				ps, cerr := ort.Providers()
				rep["providers"] = ps
				if cerr != nil {
					rep["cuda"] = "unavailable: " + firstLine(cerr.Error())
				} else {
					rep["cuda"] = "available"
				}
			}
			var files []string
			for _, f := range append(modelreg.DefaultFiles(), c.StringSlice("models")...) {
				if _, err := os.Stat(f); err == nil {
					files = append(files, f)
				}
			}
			rep["models_yaml"] = files
			if len(problems) > 0 {
				rep["problems"] = problems
			}
			if c.Bool("json") {
				return printJSON(rep)
			}
			order := []string{"imagegen", "go", "os_arch", "cpus", "cpu_flags", "ort_version", "ort_library", "providers", "cuda", "ort_cache", "models_yaml", "problems"}
			for _, k := range order {
				if v, ok := rep[k]; ok {
					fmt.Printf("%-12s %v\n", k+":", v)
				}
			}
			if len(problems) > 0 {
				return fmt.Errorf("ONNX Runtime could not be loaded")
			}
			return nil
		},
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// cpuFeatures lists the SIMD extensions ONNX Runtime's CPU kernels use.
func cpuFeatures() []string {
	var f []string
	add := func(ok bool, name string) {
		if ok {
			f = append(f, name)
		}
	}
	switch runtime.GOARCH {
	case "amd64":
		add(cpu.X86.HasSSE41, "sse4.1")
		add(cpu.X86.HasAVX, "avx")
		add(cpu.X86.HasAVX2, "avx2")
		add(cpu.X86.HasFMA, "fma")
		add(cpu.X86.HasAVX512F, "avx512f")
		add(cpu.X86.HasAVX512VNNI, "avx512vnni")
		add(cpu.X86.HasAVXVNNI, "avxvnni")
	case "arm64":
		add(cpu.ARM64.HasASIMD, "neon")
		add(cpu.ARM64.HasFPHP, "fp16")
		add(cpu.ARM64.HasSVE, "sve")
	}
	return f
}

// modelStatus says whether a model can run without a download.
func modelStatus(m modelreg.Model) string {
	if m.IsBuiltin() {
		return "built-in"
	}
	if m.IsHub() {
		if dir, err := cachedHub(m.Source); err == nil && dir != "" {
			return "present"
		}
		return "missing"
	}
	if st, err := os.Stat(m.LocalPath()); err == nil && st.IsDir() {
		return "present"
	}
	return "missing"
}
