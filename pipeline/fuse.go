package pipeline

import (
	"maps"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/graphopt"
	"github.com/imagegen/imagegen/onnx_export/onnxpb"
	"github.com/imagegen/imagegen/ort"
)

// maxFuseGraphBytes bounds the model files openFused rewrites: graphs whose
// weights sit in external data (model.onnx_data) are a few hundred KiB, so
// rewriting costs nothing; a file with its weights inside would be held
// twice while rewriting, which is what low peak memory must avoid.
const maxFuseGraphBytes = 64 << 20

// openSession opens the model at path with its decomposed attention fused
// into ONNX Runtime's MultiHeadAttention (flash attention on the CPU: at
// 512x512 an SD 1.5 UNet step needs half the memory, as the [B, heads, S, S]
// scores are never stored). Anything that stops the rewrite (a large
// file, an unreadable graph, nothing to fuse, a runtime without the
// contrib operator for this dtype) falls back to opening the file as is.
func openSession(path string, opts ort.Options) (*ort.Session, error) {
	if s := openFused(path, opts); s != nil {
		return s, nil
	}
	return ort.Open(path, opts)
}

func openFused(path string, opts ort.Options) *ort.Session {
	st, err := os.Stat(path)
	if err != nil || st.Size() > maxFuseGraphBytes {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil
	}
	if n, err := graphopt.FuseAttention(m); err != nil || n == 0 {
		return nil
	}
	if data, err = proto.Marshal(m); err != nil {
		return nil
	}
	// A model opened from bytes finds its external data through this key.
	cfg := map[string]string{"session.model_external_initializers_file_folder_path": filepath.Dir(path)}
	maps.Copy(cfg, opts.Config)
	opts.Config = cfg
	s, err := ort.OpenBytes(path, data, opts)
	if err != nil {
		return nil
	}
	return s
}
