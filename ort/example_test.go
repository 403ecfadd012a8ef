package ort_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
)

// ExampleGraphCache opens a model twice through a graph cache: the first
// load saves the graph ONNX Runtime optimized, the second opens that copy
// with the optimizer off.
func ExampleGraphCache() {
	lib, err := ortlib.Ensure(context.Background(), ortlib.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := ort.Init(lib); err != nil {
		log.Fatal(err)
	}
	tmp, err := os.MkdirTemp("", "imagegen-graph-cache")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	model := filepath.Join(tmp, "model.onnx")
	// A tiny model with a 32x32 weight; use any model file instead.
	if err := os.WriteFile(model, ort.MatMulModel(32, 1), 0o644); err != nil {
		log.Fatal(err)
	}

	cache := &ort.GraphCache{Dir: filepath.Join(tmp, "cache")} // "" = the user cache
	for i := 0; i < 2; i++ {
		s, err := ort.Open(model, ort.Options{Cache: cache})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("load", i+1, "from the cache:", s.GraphCacheHit())
		s.Close()
	}
	entries, err := cache.Entries()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(entries), "entry, made by ONNX Runtime", entries[0].Runtime == ort.Version())
	removed, _, err := cache.Clear()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("cleared", removed)
	// Output:
	// load 1 from the cache: false
	// load 2 from the cache: true
	// 1 entry, made by ONNX Runtime true
	// cleared 1
}
