package onnxexport

import (
	"path/filepath"
	"testing"
)

func BenchmarkBuildTinyUNet(b *testing.B) {
	cfg := TinySD().UNet
	for b.Loop() {
		g := NewUNetGraph(cfg, 1)
		if _, err := g.Build(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSaveReadTinyUNet(b *testing.B) {
	m, err := NewUNetGraph(TinySD().UNet, 1).Build()
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "unet.onnx")
	for b.Loop() {
		if err := Save(path, m); err != nil {
			b.Fatal(err)
		}
		if _, err := ReadModel(path); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFloat32ToFloat16(b *testing.B) {
	data := make([]float32, 1<<16)
	for i := range data {
		data[i] = float32(i) * 0.001
	}
	b.SetBytes(int64(4 * len(data)))
	for b.Loop() {
		for _, v := range data {
			_ = Float32ToFloat16(v)
		}
	}
}
