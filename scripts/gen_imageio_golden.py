#!/usr/bin/env python3
"""Write imageio/testdata goldens made by numpy, torch and PIL.

A developer tool, never a test dependency. Run from the repository root
where numpy, torch and PIL are installed (Debian: python3-torch,
python3-pil):

    python3 scripts/gen_imageio_golden.py

Files:
  postprocess.json  float32 VAE-range values, diffusers' denormalize
                    ((x/2+0.5).clamp(0,1) in torch) and numpy_to_pil's
                    bytes ((x*255).round().astype(uint8)), including exact
                    rounding ties.
  numpy.npy         a float32 array saved by numpy.save (shape 2x3x4).
  numpy_1d.npy      a 1-D float32 array (shape (5,)).
  pil_text.png      a PNG saved by PIL with tEXt, zTXt and iTXt chunks.
"""
import json
import os

import numpy as np
import torch
from PIL import Image, PngImagePlugin

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "imageio", "testdata")


def postprocess():
    rng = np.random.default_rng(0)
    vals = list(rng.uniform(-1.3, 1.3, 500).astype(np.float32))
    # Unit values whose product with 255 is an exact .5 tie in float32.
    ties = []
    for k in range(255):
        u = np.float32((k + 0.5) / 255)
        for cand in (np.nextafter(u, np.float32(0)), u, np.nextafter(u, np.float32(1))):
            if np.float32(cand * np.float32(255)) == np.float32(k + 0.5):
                ties.append(cand)
    # Signed values that land on those ties after x/2+0.5.
    vals += [np.float32((t - np.float32(0.5)) * np.float32(2)) for t in ties]
    vals += [np.float32(v) for v in (-1, 1, 0, -1.0000001, 1.0000001, -0.5, 0.5)]
    x = torch.tensor(np.array(vals, dtype=np.float32))
    unit = (x / 2 + 0.5).clamp(0, 1)
    u8 = (unit.numpy() * 255).round().astype("uint8")
    direct = (np.array(ties, dtype=np.float32) * 255).round().astype("uint8")
    return {
        "signed": [float(v) for v in x.numpy()],
        "unit": [float(v) for v in unit.numpy()],
        "uint8": [int(v) for v in u8],
        "ties": [float(v) for v in ties],
        "ties_uint8": [int(v) for v in direct],
    }


def main():
    with open(os.path.join(OUT, "postprocess.json"), "w") as f:
        json.dump(postprocess(), f)
    a = (np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 7.25) / 3
    np.save(os.path.join(OUT, "numpy.npy"), a)
    np.save(os.path.join(OUT, "numpy_1d.npy"), np.array([1.5, -2, 0, 3.25, 1e-8], dtype=np.float32))

    img = Image.new("RGB", (4, 3), (10, 200, 30))
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a cat, oil\nSteps: 20, Sampler: Euler a, Seed: 5")
    info.add_text("Comment", "caf\u00e9 latin-1")
    info.add_text("zipped", "compressed text " * 20, zip=True)
    info.add_itxt("imagegen", "{\"prompt\": \"\u732b\"}", lang="", tkey="")
    info.add_itxt("zipped_itxt", "\u00fcnicode " * 20, zip=True)
    img.save(os.path.join(OUT, "pil_text.png"), pnginfo=info)
    print("wrote goldens to", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
