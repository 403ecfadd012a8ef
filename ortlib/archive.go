package ortlib

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// maxLibrarySize bounds the entry extractArchive will write, so a corrupt or
// hostile archive cannot fill the disk.
const maxLibrarySize = 1 << 30

// extracted is a library copied out of an archive into a temporary file.
type extracted struct {
	tmp    string // temporary file in the cache folder
	entry  string // its name in the archive
	sha256 string // hex digest of its bytes
	size   int64
}

// extractArchive reads the gzip-compressed tar r to its end and copies the
// first regular file whose name match accepts into a temporary file in dir.
// Reading to the end matters: callers hash r as it is read.
func extractArchive(r io.Reader, dir string, p platform, match func(name string) bool) (extracted, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return extracted{}, fmt.Errorf("read archive: %w", err)
	}
	tr := tar.NewReader(zr)
	var out extracted
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			removeExtracted(out)
			return extracted{}, fmt.Errorf("read archive: %w", err)
		}
		if out.tmp != "" || h.Typeflag != tar.TypeReg || !match(h.Name) {
			continue
		}
		if h.Size > maxLibrarySize {
			return extracted{}, fmt.Errorf("archive entry %s is %d bytes, more than a library can be", h.Name, h.Size)
		}
		out, err = writeTemp(tr, dir, p)
		if err != nil {
			return extracted{}, fmt.Errorf("extract %s: %w", h.Name, err)
		}
		out.entry = h.Name
	}
	// Drain the gzip trailer too, so its checksum is verified and the
	// caller's hash covers every byte.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		removeExtracted(out)
		return extracted{}, fmt.Errorf("read archive: %w", err)
	}
	if out.tmp == "" {
		return extracted{}, errors.New("archive holds no ONNX Runtime library where expected")
	}
	return out, nil
}

func removeExtracted(e extracted) {
	if e.tmp != "" {
		os.Remove(e.tmp)
	}
}

// writeTemp copies r into a new temporary file in dir, hashing it, and
// checks that it starts like a library of p.
func writeTemp(r io.Reader, dir string, p platform) (extracted, error) {
	f, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return extracted{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = checkMagic(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
		return extracted{}, err
	}
	return extracted{tmp: f.Name(), sha256: hex.EncodeToString(h.Sum(nil)), size: n}, nil
}

func checkMagic(name string, p platform) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 4)
	if _, err := io.ReadFull(f, head); err != nil || !p.hasMagic(head) {
		return fmt.Errorf("file does not start like a %s shared library", hostGOOS)
	}
	return nil
}

// exactEntry matches one archive path.
func exactEntry(want string) func(string) bool {
	return func(name string) bool { return path.Clean(name) == want }
}

// releaseEntry matches the first of wants below an archive's top folder
// (onnxruntime-linux-x64-1.29.0/lib/...), or at its root for a repacked
// mirror. Earlier names in wants are not preferred over later ones: the
// release archives hold exactly one regular library file.
func releaseEntry(wants []string) func(string) bool {
	return func(name string) bool {
		name = path.Clean(name)
		rest := name
		if i := strings.IndexByte(name, '/'); i >= 0 {
			rest = name[i+1:]
		}
		for _, w := range wants {
			if name == w || rest == w {
				return true
			}
		}
		return false
	}
}
