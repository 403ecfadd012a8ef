package defaultmodel

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/embedcache"
	"github.com/imagegen/imagegen/modelreg"
)

// Name is the model's name in messages, image metadata and models.yaml.
const Name = "default"

//go:embed all:model
var files embed.FS

// root is the embedded folder's name inside files.
const root = "model"

// Defaults returns the model's generation settings: the defaults of the
// "default" entry of the models.yaml built into the binary (the scheduler,
// steps and guidance that scored best with the shapes checker, and the
// training size; see README.md).
func Defaults() modelreg.Defaults {
	return defaultsOnce()
}

var defaultsOnce = sync.OnceValue(func() modelreg.Defaults {
	models, err := modelreg.Parse("built-in models.yaml", imagegen.ModelsYAML)
	if err == nil {
		for _, m := range models {
			if m.Name == Name {
				return m.Defaults
			}
		}
	}
	// Only reachable when the repository's models.yaml loses its entry,
	// which TestDefaultsFromModelsYAML catches; the pipeline's own
	// defaults then apply.
	return modelreg.Defaults{}
})

// FS returns the embedded checkpoint folder (model_index.json at its root).
func FS() fs.FS {
	sub, err := fs.Sub(files, root)
	if err != nil { // cannot happen: root is embedded
		return files
	}
	return sub
}

var hashOnce = sync.OnceValues(func() (string, error) { return embedcache.Hash(FS()) })

// Hash returns the hex SHA-256 of the embedded files (their paths and
// contents, in path order), which names the cache folder.
func Hash() (string, error) { return hashOnce() }

// ErrNoCache is returned (wrapped) by Dir when no cache folder is given and
// the user has none.
var ErrNoCache = errors.New("defaultmodel: no cache folder")

// DefaultCacheDir is where Dir puts the model when given "": imagegen/models
// under the user's cache folder (os.UserCacheDir).
func DefaultCacheDir() (string, error) {
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoCache, err)
	}
	return filepath.Join(c, "imagegen", "models"), nil
}

// Dir returns a folder holding the embedded model, writing it under
// cacheDir ("" means DefaultCacheDir) on first use. The folder is named
// after the content hash, and written under a temporary name then renamed,
// so a folder of that name is always complete, and processes racing to
// write it agree on one copy.
func Dir(cacheDir string) (string, error) {
	if cacheDir == "" {
		var err error
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return "", err
		}
	}
	sum, err := Hash()
	if err != nil {
		return "", fmt.Errorf("defaultmodel: hash embedded files: %w", err)
	}
	dir, err := embedcache.Dir(FS(), sum, cacheDir, "imagegen-shapes-", "model_index.json")
	if err != nil {
		return "", fmt.Errorf("defaultmodel: %w", err)
	}
	return dir, nil
}
