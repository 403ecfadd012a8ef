package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/imageio"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/tokenizer"
)

// imageSize is the side of the shapes pictures the VQ-VAE encodes.
const imageSize = 32

// corpus is the pre-tokenized training set: for each picture its caption's
// textLen text ids and its imageTokens codes, both as uint16 (the text
// vocabulary has 640 ids and the codebook 1024 codes).
type corpus struct {
	text  []uint16 // [n, textLen]
	codes []uint16 // [n, imageTokens]
	empty []int64  // the text ids of "", for prompt dropout
	// dropout is the share of examples whose text is replaced by empty,
	// so that the model also learns the unconditional stream
	// classifier-free guidance needs.
	dropout float64
}

func (c *corpus) Len() int { return len(c.codes) / imageTokens }

// Example writes ids [trainInputs] (text, then the codes but the last,
// shifted past the text vocabulary) and targets [imageTokens].
func (c *corpus) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	if len(dst) != 2 || len(dst[0].I64) != trainInputs || len(dst[1].I64) != imageTokens {
		return fmt.Errorf("corpus: unexpected batch layout")
	}
	ids, targets := dst[0].I64, dst[1].I64
	if rng.Float64() < c.dropout {
		copy(ids, c.empty)
	} else {
		for k, t := range c.text[i*textLen : (i+1)*textLen] {
			ids[k] = int64(t)
		}
	}
	for k, code := range c.codes[i*imageTokens : (i+1)*imageTokens] {
		targets[k] = int64(code)
		if k < imageTokens-1 {
			ids[textLen+k] = textVocab + int64(code)
		}
	}
	return nil
}

// textIDs returns the padded text ids of prompt.
func textIDs(tok tokenizer.Tokenizer, prompt string) ([]int64, error) {
	raw := tok.EncodePadded(prompt, textLen)
	if len(raw) != textLen {
		return nil, fmt.Errorf("tokenizer gave %d ids for %q, want %d", len(raw), prompt, textLen)
	}
	ids := make([]int64, textLen)
	for k, v := range raw {
		if v < 0 || v >= textVocab {
			return nil, fmt.Errorf("text id %d of %q outside the %d-token vocabulary", v, prompt, textVocab)
		}
		ids[k] = int64(v)
	}
	return ids, nil
}

// loadCorpus returns the first n training pictures tokenized: captions by
// tok, pictures by the VQ-VAE encoder at encoder. The result is cached in
// the state folder (tokens-N.bin) and read back on later runs.
func loadCorpus(ctx context.Context, state, encoder string, tok tokenizer.Tokenizer, n, threads int, dropout float64) (*corpus, error) {
	empty, err := textIDs(tok, "")
	if err != nil {
		return nil, err
	}
	c := &corpus{empty: empty, dropout: dropout}
	path := filepath.Join(state, fmt.Sprintf("tokens-%d.bin", n))
	if err := c.read(path, n); err == nil {
		return c, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	sess, err := ort.Open(encoder, ort.Options{IntraOpThreads: threads})
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	c.text = make([]uint16, n*textLen)
	c.codes = make([]uint16, n*imageTokens)
	data := shapes.Dataset{Split: shapes.Train, Size: imageSize}
	const chunk = 64
	px := make([]float32, chunk*3*imageSize*imageSize)
	for lo := 0; lo < n; lo += chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m := min(chunk, n-lo)
		for j := range m {
			s, err := data.Sample(lo + j)
			if err != nil {
				return nil, err
			}
			t, err := imageio.ImageTensor(s.Image, imageSize, imageSize)
			if err != nil {
				return nil, err
			}
			copy(px[j*3*imageSize*imageSize:], t)
			ids, err := textIDs(tok, s.Caption)
			if err != nil {
				return nil, err
			}
			for k, v := range ids {
				c.text[(lo+j)*textLen+k] = uint16(v)
			}
		}
		out := map[string]*ort.Tensor{"indices": {}}
		in := map[string]ort.Tensor{"sample": {Shape: []int64{int64(m), 3, imageSize, imageSize}, F32: px[:m*3*imageSize*imageSize]}}
		if err := sess.Run(ctx, in, out); err != nil {
			return nil, err
		}
		if len(out["indices"].I64) != m*imageTokens {
			return nil, fmt.Errorf("encoder gave %d codes for %d pictures", len(out["indices"].I64), m)
		}
		for k, v := range out["indices"].I64 {
			c.codes[lo*imageTokens+k] = uint16(v)
		}
		if lo%(chunk*100) == 0 {
			fmt.Printf("tokenized %d of %d pictures\n", lo+m, n)
		}
	}
	return c, c.write(path)
}

// write saves the token arrays atomically.
func (c *corpus) write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	err = binary.Write(f, binary.LittleEndian, c.text)
	if err == nil {
		err = binary.Write(f, binary.LittleEndian, c.codes)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// read loads token arrays written by write for n pictures.
func (c *corpus) read(path string, n int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	c.text = make([]uint16, n*textLen)
	c.codes = make([]uint16, n*imageTokens)
	if err := binary.Read(f, binary.LittleEndian, c.text); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := binary.Read(f, binary.LittleEndian, c.codes); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if _, err := f.Read(make([]byte, 1)); err != io.EOF {
		return fmt.Errorf("%s: longer than %d pictures", path, n)
	}
	return nil
}
