package hub

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestParseRef(t *testing.T) {
	tests := []struct {
		in   string
		want Ref
	}{
		{"stabilityai/sd-turbo", Ref{Repo: "stabilityai/sd-turbo"}},
		{"hf:stabilityai/sd-turbo", Ref{Repo: "stabilityai/sd-turbo"}},
		{"hf:org/name@v1.0", Ref{Repo: "org/name", Revision: "v1.0"}},
		{"org/name@refs%2Fpr%2F3", Ref{Repo: "org/name", Revision: "refs/pr/3"}},
		{"hf:org/name@main/onnx/unet", Ref{Repo: "org/name", Revision: "main", Subfolder: "onnx/unet"}},
		{"hf:org/name/onnx/", Ref{Repo: "org/name", Subfolder: "onnx"}},
		{"hf:Org_1/my.model-v2", Ref{Repo: "Org_1/my.model-v2"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRef(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			again, err := ParseRef(got.String())
			if err != nil || again != got {
				t.Errorf("round trip through %q gave %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParseRefErrors(t *testing.T) {
	for _, in := range []string{
		"", "hf:", "sd-turbo", "hf:org/", "hf:/name", "org/name@", "org/na me",
		"org/../name", "org/name@../x", "hf:org/name/../../etc", "hf:org/name/a//b",
		"-org/name", "org/name.", "org--x/name", "org/name@%zz", `hf:org/name/a\b`,
	} {
		t.Run(in, func(t *testing.T) {
			if r, err := ParseRef(in); !errors.Is(err, ErrInvalidRef) {
				t.Fatalf("got %+v, %v; want ErrInvalidRef", r, err)
			}
		})
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"hf:org/name@rev/sub/dir", "org/name", "a/b@c%2Fd", "hf:x/y/../z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		// Whatever parses must stay inside the cache folder.
		for _, p := range []string{r.folderName(), r.Subfolder, r.Revision} {
			if p == "" {
				continue
			}
			if !filepath.IsLocal(filepath.FromSlash(p)) {
				t.Fatalf("%q gave non-local path %q", s, p)
			}
		}
		again, err := ParseRef(r.String())
		if err != nil || again != r {
			t.Fatalf("%q: round trip gave %+v, %v; want %+v", s, again, err, r)
		}
	})
}

func TestNewClientFromEnv(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		env  map[string]string
		want Client
	}{
		{"hf home", map[string]string{"HF_HOME": dir, "HF_TOKEN": "t1", "HF_HUB_OFFLINE": "1"},
			Client{CacheDir: filepath.Join(dir, "hub"), Token: "t1", Offline: true}},
		{"hub cache and endpoint", map[string]string{"HF_HOME": dir, "HF_HUB_CACHE": "/c", "HF_ENDPOINT": "http://mirror.test/", "HF_HUB_OFFLINE": "no"},
			Client{CacheDir: "/c", Endpoint: "http://mirror.test"}},
		{"xdg", map[string]string{"XDG_CACHE_HOME": "/x", "HUGGING_FACE_HUB_TOKEN": "t2", "HF_HUB_OFFLINE": "true"},
			Client{CacheDir: "/x/huggingface/hub", Token: "t2", Offline: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := newClientFromLookup(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if got.CacheDir != tt.want.CacheDir || got.Token != tt.want.Token || got.Offline != tt.want.Offline || got.Endpoint != tt.want.Endpoint {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}
