package pipeline

// Tiled VAE: a picture too large to decode (or encode) at once is cut into
// overlapping tiles, each run alone, and the tiles' outputs are blended
// with linear ramps across the overlaps (package internal/tiling), so no
// seam shows where they meet.
// Each tile's GroupNorm sees its own statistics, so a tiled picture
// differs slightly from the whole one; the overlap hides the borders.

// defaultVAEBudget is the memory a whole-picture VAE run may take before
// it is tiled (Options.VAEMemoryBudget).
const defaultVAEBudget = 4 << 30

// vaeTileDefault is the pixel tile size automatic tiling uses, and
// vaeOverlapDefault the overlap (a quarter of it, as diffusers' tiled VAE).
const (
	vaeTileDefault    = 512
	vaeOverlapDefault = 128
)

// vaeTile returns the pixel tile size and overlap for an h×w picture: the
// forced size of Options.VAETile, the default size when the whole picture
// would exceed the memory budget, or 0 to run it whole.
func (p *diffusionPipeline) vaeTile(h, w int) (tile, overlap int) {
	if t := p.opts.VAETile; t > 0 {
		t = max(2*p.vaeScale, t/p.vaeScale*p.vaeScale)
		return t, max(p.vaeScale, t/4/p.vaeScale*p.vaeScale)
	}
	budget := p.opts.VAEMemoryBudget
	if budget <= 0 {
		budget = defaultVAEBudget
	}
	ch := 128
	if len(p.vae.BlockOutChannels) > 0 {
		ch = p.vae.BlockOutChannels[0]
	}
	// A few activations of the last up block at full resolution are live
	// at once: the SD 1.5 decoder's whole 1024² decode on the CPU grew
	// the process by 3.8 GiB, 7.5 float32 activations of 128 channels
	// (TestVAEDecodeRSS); 8 keeps 1024² whole under the default budget.
	if int64(h)*int64(w)*int64(ch)*4*8 <= budget || (h <= vaeTileDefault && w <= vaeTileDefault) {
		return 0, 0
	}
	return vaeTileDefault, vaeOverlapDefault
}
