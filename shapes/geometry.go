package shapes

import (
	"math"
	"sync"
)

// Each shape class is an inside test over "raw" coordinates (x right, y
// down, roughly [-1.25, 1.25]). The renderer and the checker both work in
// "unit" coordinates instead: origin at the shape's area centroid, scaled so
// that the larger half-extent of the bounding box is the class's visual
// scale (1 for most classes). A shape of radius r placed at (cx, cy) covers
// the pixels whose unit coordinates ((x-cx)/r, (y-cy)/r) are inside.
// Placing by the centroid is what lets the checker read a position from
// the centroid with no per-class offset.

// rawInside reports whether the raw point (x, y) is inside a shape of
// class k.
func rawInside(k Kind, x, y float64) bool {
	switch k {
	case Circle:
		return x*x+y*y <= 1
	case Square:
		return math.Abs(x) <= 1 && math.Abs(y) <= 1
	case Triangle:
		return insidePolygon(trianglePoly, x, y)
	case Star:
		return insidePolygon(starPoly, x, y)
	case Heart:
		// The classic implicit heart (x²+y²-1)³ - x²y³ ≤ 0, with y up.
		y = -y
		q := x*x + y*y - 1
		return q*q*q-x*x*y*y*y <= 0
	}
	return false
}

// visualScale shrinks classes that would look larger than the others at the
// same radius.
func visualScale(k Kind) float64 {
	if k == Square {
		return 0.85
	}
	return 1
}

var trianglePoly = [][2]float64{{0, -1}, {1, 0.732}, {-1, 0.732}}

// starPoly is a five-pointed star with one point up and a fat inner
// radius (0.5), so that its arms survive at 32x32.
var starPoly = func() [][2]float64 {
	p := make([][2]float64, 10)
	for i := range p {
		rad := 1.0
		if i%2 == 1 {
			rad = 0.5
		}
		a := -math.Pi/2 + float64(i)*math.Pi/5
		p[i] = [2]float64{rad * math.Cos(a), rad * math.Sin(a)}
	}
	return p
}()

// insidePolygon is the even-odd rule.
func insidePolygon(poly [][2]float64, x, y float64) bool {
	in := false
	for i, j := 0, len(poly)-1; i < len(poly); j, i = i, i+1 {
		xi, yi, xj, yj := poly[i][0], poly[i][1], poly[j][0], poly[j][1]
		if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}

// kindGeom is what the renderer and checker need to know about a class in
// unit coordinates.
type kindGeom struct {
	scale  float64 // unit = (raw - centroid) * scale
	cx, cy float64 // raw centroid
	area   float64 // area in unit coordinates (pixels / r²)
	// Bounding box relative to the centroid, in unit coordinates.
	minU, maxU, minV, maxV float64
}

// geometry measures every class once by sampling its raw inside test on a
// fine grid.
var geometry = sync.OnceValue(func() *[len(kindNames)]kindGeom {
	var g [len(kindNames)]kindGeom
	const n, lim = 800, 1.5
	step := 2 * lim / n
	for _, k := range Kinds {
		var cnt, sx, sy float64
		minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
		for j := range n {
			y := -lim + (float64(j)+0.5)*step
			for i := range n {
				x := -lim + (float64(i)+0.5)*step
				if !rawInside(k, x, y) {
					continue
				}
				cnt++
				sx += x
				sy += y
				minX, maxX = min(minX, x), max(maxX, x)
				minY, maxY = min(minY, y), max(maxY, y)
			}
		}
		// The sample grid under-reports the extent by half a step.
		minX, maxX, minY, maxY = minX-step/2, maxX+step/2, minY-step/2, maxY+step/2
		cx, cy := sx/cnt, sy/cnt
		half := max(maxX-minX, maxY-minY) / 2
		s := visualScale(k) / half
		g[k] = kindGeom{
			scale: s, cx: cx, cy: cy,
			area: cnt * step * step * s * s,
			minU: (minX - cx) * s, maxU: (maxX - cx) * s,
			minV: (minY - cy) * s, maxV: (maxY - cy) * s,
		}
	}
	return &g
})

// unitInside reports whether the unit point (u, v) is inside class k.
func (g *kindGeom) unitInside(k Kind, u, v float64) bool {
	return rawInside(k, u/g.scale+g.cx, v/g.scale+g.cy)
}

// supersample is the number of samples per pixel side used for
// anti-aliasing (so supersample² coverage levels).
const supersample = 5

// coverageBox returns the pixel box [x0, x1) x [y0, y1) that a shape of
// class k, radius r, centroid (cx, cy) can touch, clipped to w x h.
func coverageBox(k Kind, cx, cy, r float64, w, h int) (x0, y0, x1, y1 int) {
	g := &geometry()[k]
	x0 = max(int(math.Floor(cx+g.minU*r)), 0)
	y0 = max(int(math.Floor(cy+g.minV*r)), 0)
	x1 = min(int(math.Ceil(cx+g.maxU*r))+1, w)
	y1 = min(int(math.Ceil(cy+g.maxV*r))+1, h)
	return x0, y0, x1, max(y1, y0)
}

// rasterize calls put(x, y, a) with the covered fraction a in (0, 1] of
// each pixel of a w x h image that a shape of class k, radius r (pixels)
// and centroid (cx, cy) (pixels, origin at the top-left corner of the
// image) touches.
func rasterize(k Kind, cx, cy, r float64, w, h int, put func(x, y int, a float64)) {
	if !k.valid() || !(r > 0) {
		return
	}
	g := &geometry()[k]
	x0, y0, x1, y1 := coverageBox(k, cx, cy, r, w, h)
	const n = supersample
	inv := 1 / r
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			hits := 0
			for j := range n {
				v := (float64(y) + (float64(j)+0.5)/n - cy) * inv
				for i := range n {
					u := (float64(x) + (float64(i)+0.5)/n - cx) * inv
					if g.unitInside(k, u, v) {
						hits++
					}
				}
			}
			if hits > 0 {
				put(x, y, float64(hits)/(n*n))
			}
		}
	}
}
