package imageio

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"unicode/utf8"
)

// Limits that keep a hostile file from exhausting memory.
const (
	maxTextChunk = 8 << 20  // bytes of one text chunk as stored
	maxTextTotal = 32 << 20 // bytes of text after decompression, all chunks
)

// ReadPNGText returns the text chunks (tEXt, zTXt and iTXt) of the PNG file
// at path, keyed by keyword, without decoding the image. When a keyword
// repeats the last chunk wins, as in PIL's Image.info.
func ReadPNGText(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("imageio: %w", err)
	}
	defer f.Close()
	m, err := DecodePNGText(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// DecodePNGText reads a PNG stream up to its IEND chunk and returns its
// text chunks as ReadPNGText does. It checks the signature, chunk order
// (IHDR first) and every CRC; a malformed stream gives a *FormatError.
func DecodePNGText(r io.Reader) (map[string]string, error) {
	br := bufio.NewReader(r)
	var sig [8]byte
	if _, err := io.ReadFull(br, sig[:]); err != nil {
		return nil, pngReadErr(err, "signature")
	}
	if string(sig[:]) != pngSignature {
		return nil, formatErr("png", "not a PNG signature")
	}
	text := map[string]string{}
	total := 0
	for first := true; ; first = false {
		var head [8]byte
		if _, err := io.ReadFull(br, head[:]); err != nil {
			return nil, pngReadErr(err, "chunk header")
		}
		length := binary.BigEndian.Uint32(head[:4])
		typ := string(head[4:])
		if length > 1<<31-1 {
			return nil, formatErr("png", "chunk %q length %d", typ, length)
		}
		if !validChunkType(head[4:]) {
			return nil, formatErr("png", "bad chunk type %q", typ)
		}
		if first && typ != "IHDR" {
			return nil, formatErr("png", "first chunk is %q, not IHDR", typ)
		}
		crc := crc32.NewIEEE()
		crc.Write(head[4:])
		var body []byte
		switch typ {
		case "tEXt", "zTXt", "iTXt":
			if length > maxTextChunk {
				return nil, formatErr("png", "%s chunk of %d bytes", typ, length)
			}
			body = make([]byte, length)
			if _, err := io.ReadFull(br, body); err != nil {
				return nil, pngReadErr(err, typ+" chunk")
			}
			crc.Write(body)
		default:
			if _, err := io.CopyN(crc, br, int64(length)); err != nil {
				return nil, pngReadErr(err, typ+" chunk")
			}
		}
		var sum [4]byte
		if _, err := io.ReadFull(br, sum[:]); err != nil {
			return nil, pngReadErr(err, typ+" CRC")
		}
		if binary.BigEndian.Uint32(sum[:]) != crc.Sum32() {
			return nil, formatErr("png", "%s chunk CRC mismatch", typ)
		}
		if typ == "IEND" {
			return text, nil
		}
		if body == nil {
			continue
		}
		key, value, err := parseTextChunk(typ, body, maxTextTotal-total)
		if err != nil {
			return nil, err
		}
		total += len(value)
		text[key] = value
	}
}

// parseTextChunk decodes one text chunk body, decompressing at most limit
// bytes.
func parseTextChunk(typ string, body []byte, limit int) (key, value string, err error) {
	k, rest, ok := bytes.Cut(body, []byte{0})
	if !ok || len(k) == 0 || len(k) > 79 {
		return "", "", formatErr("png", "%s chunk has no valid keyword", typ)
	}
	key = fromLatin1(k)
	switch typ {
	case "tEXt":
		return key, fromLatin1(rest), nil
	case "zTXt":
		if len(rest) < 1 || rest[0] != 0 {
			return "", "", formatErr("png", "zTXt %q: unknown compression method", key)
		}
		raw, err := inflate(rest[1:], limit)
		if err != nil {
			return "", "", fmt.Errorf("zTXt %q: %w", key, err)
		}
		return key, fromLatin1(raw), nil
	}
	// iTXt: compression flag, method, language tag NUL, translated keyword NUL, text.
	if len(rest) < 2 {
		return "", "", formatErr("png", "iTXt %q truncated", key)
	}
	compressed, method := rest[0], rest[1]
	rest = rest[2:]
	if _, rest, ok = bytes.Cut(rest, []byte{0}); !ok {
		return "", "", formatErr("png", "iTXt %q: no language tag", key)
	}
	if _, rest, ok = bytes.Cut(rest, []byte{0}); !ok {
		return "", "", formatErr("png", "iTXt %q: no translated keyword", key)
	}
	switch {
	case compressed == 0:
	case compressed == 1 && method == 0:
		if rest, err = inflate(rest, limit); err != nil {
			return "", "", fmt.Errorf("iTXt %q: %w", key, err)
		}
	default:
		return "", "", formatErr("png", "iTXt %q: compression flag %d method %d", key, compressed, method)
	}
	if !utf8.Valid(rest) {
		return "", "", formatErr("png", "iTXt %q is not UTF-8", key)
	}
	return key, string(rest), nil
}

// inflate decompresses zlib data, refusing output beyond limit bytes.
func inflate(data []byte, limit int) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, formatErr("png", "bad zlib stream: %v", err)
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, formatErr("png", "bad zlib stream: %v", err)
	}
	if len(out) > limit {
		return nil, formatErr("png", "text expands beyond %d bytes", maxTextTotal)
	}
	return out, nil
}

// validChunkType reports whether t is four ASCII letters.
func validChunkType(t []byte) bool {
	for _, c := range t {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func pngReadErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return formatErr("png", "truncated %s", what)
	}
	return fmt.Errorf("imageio: read png %s: %w", what, err)
}
