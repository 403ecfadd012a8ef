#!/usr/bin/env python3
"""Write rng/testdata/torch_<kernel>.json: torch CPU generator draws that
the Go package rng must reproduce.

A developer tool, never a test dependency: run it where PyTorch is
installed (any version with the mt19937 CPU generator, e.g. Debian's
python3-torch) from the repository root:

    python3 scripts/gen_rng_golden.py

torch.randn on a float32 tensor of 16 or more elements takes a different
kernel depending on the CPU capability ATen dispatches to, so the script
runs itself once per capability (ATEN_CPU_CAPABILITY must be set before
torch is imported): "avx2" is what x86 machines with AVX2 give, "default"
is the portable kernel (ARM, or x86 without AVX2).
"""
import json
import os
import subprocess
import sys

KERNELS = ["avx2", "default"]
SEEDS = [0, 1, 42, 1234, 2**32 + 5, 2**63 + 12345, 2**64 - 1]
SIZES = [1, 2, 3, 7, 15, 16, 17, 31, 33, 100, 1024 + 5]
# A sequence on one generator: mixed sizes below and above 16 and rand
# calls, so the cached second Box-Muller sample has to survive calls that
# do not use it.
SEQUENCE = [("randn", 3), ("randn", 1), ("randn", 16), ("randn", 5),
            ("rand", 7), ("randn", 2), ("randn", 33), ("randn", 1),
            ("rand", 20), ("randn", 15), ("randn", 1), ("randn", 1029),
            ("randn", 1)]
BIG = [4 * 128 * 128, 4 * 128 * 128 + 7]
EDGE = 256  # values kept from each end of a big draw


def draw(torch, g, op, n):
    fn = torch.randn if op == "randn" else torch.rand
    return fn(n, generator=g, dtype=torch.float32).tolist()


def generate():
    import torch

    cases = []
    for seed in SEEDS:
        singles = []
        for n in SIZES:
            g = torch.Generator().manual_seed(seed)
            singles.append({"op": "randn", "n": n, "values": draw(torch, g, "randn", n)})
        for n in SIZES:
            g = torch.Generator().manual_seed(seed)
            singles.append({"op": "rand", "n": n, "values": draw(torch, g, "rand", n)})
        g = torch.Generator().manual_seed(seed)
        sequence = [{"op": op, "n": n, "values": draw(torch, g, op, n)} for op, n in SEQUENCE]
        cases.append({"seed": str(seed), "singles": singles, "sequence": sequence})

    big = []
    for n in BIG:
        g = torch.Generator().manual_seed(7)
        v = draw(torch, g, "randn", n)
        big.append({"seed": "7", "n": n, "head": v[:EDGE], "tail": v[-EDGE:]})

    # manual_seed must drop the cached normal: draw one value (caching the
    # second), reseed, draw two.
    g = torch.Generator().manual_seed(5)
    first = draw(torch, g, "randn", 1)
    g.manual_seed(5)
    again = draw(torch, g, "randn", 2)

    return {
        "torch_version": torch.__version__,
        "kernel": os.environ.get("ATEN_CPU_CAPABILITY", ""),
        "cases": cases,
        "big": big,
        "reseed": {"seed": "5", "first": first, "after_reseed": again},
    }


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--child":
        json.dump(generate(), sys.stdout)
        return
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rng", "testdata")
    for kernel in KERNELS:
        env = dict(os.environ, ATEN_CPU_CAPABILITY=kernel)
        data = subprocess.run([sys.executable, __file__, "--child"], env=env,
                              check=True, capture_output=True).stdout
        path = os.path.join(out_dir, "torch_%s.json" % kernel)
        with open(path, "wb") as f:
            f.write(data)
        print("wrote", os.path.normpath(path), len(data), "bytes")


if __name__ == "__main__":
    main()
