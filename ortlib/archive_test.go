package ortlib

import (
	"bytes"
	"testing"
)

func TestReleaseEntry(t *testing.T) {
	match := releaseEntry(linuxReleaseEntries)
	tests := []struct {
		name string
		want bool
	}{
		{"onnxruntime-linux-x64-1.29.0/lib/libonnxruntime.so.1.29.0", true},
		{"./onnxruntime-linux-x64-1.29.0/lib/libonnxruntime.so.1", true}, // tar c ./dir
		{"lib/libonnxruntime.so.1.29.0", true},
		{"onnxruntime-linux-x64-1.29.0/lib/libonnxruntime_providers_shared.so", false},
		{"onnxruntime-linux-x64-1.29.0/include/lib/libonnxruntime.so", false},
		{"a/b/lib/libonnxruntime.so", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := match(tt.name); got != tt.want {
				t.Errorf("releaseEntry(%q) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

// BenchmarkExtractArchive measures reading a release-shaped archive and
// copying its library out, the work Install does after a download.
func BenchmarkExtractArchive(b *testing.B) {
	p := testPlatform(b)
	lib := make([]byte, 16<<20)
	copy(lib, p.magic[0])
	for i := 4; i < len(lib); i++ {
		lib[i] = byte(i * 7 / 5) // compressible, like code
	}
	tgz := releaseTarball(b, lib)
	dir := b.TempDir()
	b.SetBytes(int64(len(lib)))
	b.ResetTimer()
	for range b.N {
		out, err := extractArchive(bytes.NewReader(tgz), dir, p, releaseEntry(p.releaseEntries))
		if err != nil {
			b.Fatal(err)
		}
		removeExtracted(out)
	}
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-99/100", "bytes 5-9/*", "bytes 1-2", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, total, err := parseContentRange(s)
		if err == nil && (start < 0 || (total != -1 && total <= start)) {
			t.Errorf("parseContentRange(%q) = %d, %d with no error", s, start, total)
		}
	})
}

func FuzzParseSRISHA512(f *testing.F) {
	for _, s := range []string{"sha512-" + string(bytes.Repeat([]byte("A"), 86)) + "==", "sha1-abc", "sha512-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sum, err := parseSRISHA512(s)
		if err == nil && len(sum) != 64 {
			t.Errorf("parseSRISHA512(%q) gave a %d-byte digest", s, len(sum))
		}
	})
}
