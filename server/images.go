package server

import (
	"bytes"
	"image"
	"image/color"
	_ "image/jpeg" // uploads may be JPEG
	"image/png"

	"github.com/imagegen/imagegen/engine"
)

// decodeLimited decodes an uploaded picture after checking the size its
// header declares against the engine's pixel limit.
func decodeLimited(b []byte, maxPixels int) (image.Image, *apiError) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, badRequest("image", "image: %v", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxPixels {
		return nil, badRequest("image", "image of %dx%d is over this server's limit of %d pixels", cfg.Width, cfg.Height, maxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, badRequest("image", "image: %v", err)
	}
	return img, nil
}

// openAIMask converts an OpenAI-style mask (transparent pixels are
// repainted) into imagegen's (white pixels are repainted). A mask without
// any transparency is taken to be in imagegen's convention already.
func (s *Server) openAIMask(b []byte) ([]byte, error) {
	img, aerr := decodeLimited(b, engine.DefaultLimits().MaxPixels)
	if aerr != nil {
		return nil, aerr
	}
	bounds := img.Bounds()
	out := image.NewGray(bounds)
	transparent := false
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			_, _, _, a := img.At(x, y).RGBA()
			if a < 0x8000 {
				transparent = true
				out.SetGray(x, y, color.Gray{Y: 255})
			}
		}
	}
	if !transparent {
		return b, nil
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
