package hub

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// BenchmarkPullLFS measures one 16 MiB LFS file going through the
// redirect, the transfer, the sha256 check and the publish rename.
func BenchmarkPullLFS(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<20)
	hub := newFakeHub(b, "bench/repo", map[string][]byte{"unet/model.onnx": data}, isLFSName)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c := &Client{Endpoint: hub.api.URL, CacheDir: b.TempDir()}
		if _, err := c.Pull(context.Background(), Ref{Repo: "bench/repo"}, PullOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(c.CacheDir)
		b.StartTimer()
	}
}
