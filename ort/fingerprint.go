package ort

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"
	"os"
	"path/filepath"
)

// Sampling of large files: a file of at most fullHashBytes is hashed whole;
// a larger one by its size, its modification time, its first and last
// sampleBytes and sampleCount chunks of sampleBytes spread evenly between
// them. For a 3.4 GB UNet that reads 2.2 MB instead of 3.4 GB, and any
// ordinary rewrite of the file still changes the fingerprint through its
// modification time.
const (
	fullHashBytes = 4 << 20
	sampleBytes   = 64 << 10
	sampleCount   = 32
)

// fileDigest is the sampled hash of one file, as written in a cache entry.
type fileDigest struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	Sample string `json:"sample_sha256"`
}

// digestFile hashes the file at path the way fullHashBytes describes;
// withTime adds its modification time (source files: a rewrite is a new
// model), which cache entries leave out (their files are checked against
// the sizes and samples recorded when they were written).
func digestFile(path string, withTime bool) (fileDigest, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileDigest{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fileDigest{}, err
	}
	h := sha256.New()
	size := st.Size()
	writeInt(h, size)
	if withTime {
		writeInt(h, st.ModTime().UnixNano())
	}
	if size <= fullHashBytes {
		if _, err := io.Copy(h, f); err != nil {
			return fileDigest{}, err
		}
	} else {
		buf := make([]byte, sampleBytes)
		last := size - sampleBytes
		for i := int64(0); i <= sampleCount+1; i++ {
			off := last * i / (sampleCount + 1)
			if _, err := f.ReadAt(buf, off); err != nil {
				return fileDigest{}, err
			}
			h.Write(buf)
		}
	}
	return fileDigest{Name: filepath.Base(path), Size: size, Sample: hex.EncodeToString(h.Sum(nil))}, nil
}

func writeInt(h hash.Hash, v int64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(v))
	h.Write(b[:])
}
