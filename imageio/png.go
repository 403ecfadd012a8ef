package imageio

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"unicode/utf8"
)

// JSONKeyword is the iTXt keyword under which EncodePNG stores
// Metadata.JSON.
const JSONKeyword = "imagegen"

// ParametersKeyword is the text keyword AUTOMATIC1111's web UI (and the
// tools that read its files) use for the generation parameters.
const ParametersKeyword = "parameters"

const pngSignature = "\x89PNG\r\n\x1a\n"

// Metadata is the text EncodePNG embeds in a PNG.
type Metadata struct {
	// Parameters is the AUTOMATIC1111 "parameters" text, usually from
	// GenerationParams.Infotext. It is stored as tEXt when it is Latin-1
	// and as iTXt otherwise, as PIL does. Empty means none.
	Parameters string
	// JSON is a JSON document stored as UTF-8 iTXt under JSONKeyword.
	// Empty means none; invalid JSON is an error.
	JSON string
}

// EncodePNG writes img to w as an 8-bit RGB PNG tagged sRGB, with the text
// of meta in chunks before the image data. Any alpha channel is dropped, as
// PIL's convert("RGB") does. Equal inputs give identical bytes.
func EncodePNG(w io.Writer, img image.Image, meta Metadata) error {
	if img == nil || img.Bounds().Empty() {
		return fmt.Errorf("%w: empty image", ErrShape)
	}
	if !utf8.ValidString(meta.Parameters) {
		return errors.New("imageio: png parameters text is not UTF-8")
	}
	if meta.JSON != "" && !json.Valid([]byte(meta.JSON)) {
		return errors.New("imageio: png metadata JSON is not valid JSON")
	}
	var extra bytes.Buffer
	// Perceptual rendering intent: the picture is plain sRGB.
	writeChunk(&extra, "sRGB", []byte{0})
	if meta.Parameters != "" {
		if latin1, ok := toLatin1(meta.Parameters); ok {
			writeChunk(&extra, "tEXt", append([]byte(ParametersKeyword+"\x00"), latin1...))
		} else {
			writeChunk(&extra, "iTXt", iTXtPayload(ParametersKeyword, meta.Parameters))
		}
	}
	if meta.JSON != "" {
		writeChunk(&extra, "iTXt", iTXtPayload(JSONKeyword, meta.JSON))
	}

	var encoded bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.DefaultCompression}
	if err := enc.Encode(&encoded, opaqueRGB(img)); err != nil {
		return fmt.Errorf("imageio: encode png: %w", err)
	}
	// Splice the text in right after IHDR, the first chunk: image/png
	// writes signature, then IHDR (8+13+4 bytes), then the rest.
	b := encoded.Bytes()
	ihdrEnd := len(pngSignature) + 8 + 13 + 4
	if len(b) < ihdrEnd || string(b[len(pngSignature)+4:len(pngSignature)+8]) != "IHDR" {
		return errors.New("imageio: encode png: unexpected encoder output")
	}
	for _, part := range [][]byte{b[:ihdrEnd], extra.Bytes(), b[ihdrEnd:]} {
		if _, err := w.Write(part); err != nil {
			return fmt.Errorf("imageio: write png: %w", err)
		}
	}
	return nil
}

// WritePNG writes img with meta to path as EncodePNG does, atomically.
func WritePNG(path string, img image.Image, meta Metadata) error {
	return WriteFileAtomic(path, func(w io.Writer) error { return EncodePNG(w, img, meta) })
}

// opaqueRGB returns img as an NRGBA image with every alpha 255 (which
// image/png writes as colour type 2, 8-bit RGB), copying only when needed.
func opaqueRGB(img image.Image) image.Image {
	if m, ok := img.(*image.NRGBA); ok && m.Opaque() {
		return m
	}
	if m, ok := img.(*image.RGBA); ok && m.Opaque() {
		return m
	}
	return toNRGBAOpaque(img)
}

func writeChunk(w *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	w.Write(n[:])
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	w.WriteString(typ)
	w.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	w.Write(n[:])
}

// iTXtPayload builds an uncompressed iTXt chunk body with no language tag.
func iTXtPayload(keyword, text string) []byte {
	var b []byte
	b = append(b, keyword...)
	b = append(b, 0, 0, 0) // keyword end, compression flag, method
	b = append(b, 0, 0)    // empty language tag, empty translated keyword
	return append(b, text...)
}

// toLatin1 converts s to ISO 8859-1, the encoding of tEXt chunks, reporting
// false when s has characters outside it.
func toLatin1(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff || r == 0 {
			return nil, false
		}
		out = append(out, byte(r))
	}
	return out, true
}

func fromLatin1(b []byte) string {
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = rune(c)
	}
	return string(rs)
}
