#!/usr/bin/env python3
"""Reads the logs of scripts/bench_sdcpp.sh.

  bench_sdcpp_parse.py run VARIANT SIZE RUN LOG_PREFIX PNG LOAD_BEFORE LOAD_AFTER
      prints one runs.tsv line from LOG_PREFIX.{time,out,err}: the median
      step after the first (the first also loads lazily), VAE decode, wall
      and CPU time of the process, peak RSS.
  bench_sdcpp_parse.py summary RUNS_TSV PSNR_BIN
      prints medians per size and variant, the PSNR of each variant's first
      picture against the same tool's float32 picture, and the peer/imagegen
      ratios.

imagegen's times come from `generate --json`; stable-diffusion.cpp's from its
log: the progress line's per-step seconds ("4/4 - 7.12s/it") and
"decode_first_stage completed, taking 15.3s".
"""
import json
import re
import statistics
import subprocess
import sys


def gnu_time(path):
    tv = {}
    for line in open(path):
        k, _, v = line.strip().rpartition(": ")
        tv[k] = v
    h, m, s = ([0, 0] + tv["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":"))[-3:]
    wall = int(h) * 3600 + int(m) * 60 + float(s)
    cpu = float(tv["User time (seconds)"]) + float(tv["System time (seconds)"])
    rss = int(tv["Maximum resident set size (kbytes)"]) / 2**20
    if tv.get("Exit status", "0") != "0":
        raise SystemExit(f"bench_sdcpp_parse: {path}: the command failed (exit status {tv['Exit status']})")
    return wall, cpu, rss


def imagegen_times(prefix):
    d = json.load(open(prefix + ".out"))
    t = d["timings"]
    return t["step_seconds"], t["vae_seconds"]


def sdcpp_times(prefix):
    text = open(prefix + ".out", errors="replace").read() + "\n" + open(prefix + ".err", errors="replace").read()
    steps = {}
    for m in re.finditer(r"(\d+)/(\d+) - ([0-9.]+)(s/it|it/s)", text):
        v = float(m.group(3))
        steps[int(m.group(1))] = v if m.group(4) == "s/it" else 1 / v
    m = re.search(r"decode_first_stage completed, taking ([0-9.]+)s", text)
    if not steps or not m:
        raise SystemExit(f"bench_sdcpp_parse: {prefix}: no step or VAE timings in the peer's log")
    return [steps[k] for k in sorted(steps)], float(m.group(1))


def run(variant, size, r, prefix, png, la0, la1):
    wall, cpu, rss = gnu_time(prefix + ".time")
    steps, vae = imagegen_times(prefix) if variant.startswith("ig-") else sdcpp_times(prefix)
    steady = steps[1:] or steps
    step = statistics.median(steady)
    print(f"{size}\t{variant}\t{r}\t{step:.2f}\t{vae:.2f}\t{wall:.1f}\t{cpu:.1f}\t{rss:.2f}\t{la0}\t{la1}\t{png}")


def psnr(bin_, ref, other):
    out = subprocess.run([bin_, ref, other], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    return float(out.stdout.split()[0])


def summary(tsv, psnr_bin):
    rows = [line.rstrip("\n").split("\t") for line in open(tsv)][1:]
    groups = {}
    for row in rows:
        groups.setdefault((int(row[0]), row[1]), []).append(row)
    med = {}
    print("size  variant         runs step_s  vae_s  wall_s  cpu_s  rss_gib  load_avg   psnr_vs_f32")
    for (size, variant), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        col = lambda i: statistics.median(float(r[i]) for r in rs)
        loads = [float(r[j]) for r in rs for j in (8, 9)]
        m = dict(step=col(3), vae=col(4), wall=col(5), cpu=col(6), rss=col(7))
        med[(size, variant)] = m
        ref_variant = "ig-f32" if variant.startswith("ig-") else "sd-f32"
        db = "-"
        ref = [r for r in groups.get((size, ref_variant), []) if r[2] == "1"]
        first = [r for r in rs if r[2] == "1"]
        if variant != ref_variant and ref and first:
            v = psnr(psnr_bin, ref[0][10], first[0][10])
            db = "?" if v is None else f"{v:.1f} dB"
        print(f"{size:<5} {variant:<15} {len(rs):<4} {m['step']:<7.2f} {m['vae']:<6.2f} {m['wall']:<7.1f} "
              f"{m['cpu']:<6.1f} {m['rss']:<8.2f} {min(loads):.1f}-{max(loads):.1f}  {db}")
    print()
    print("peer/imagegen (medians; > 1: imagegen faster or smaller)")
    for size in sorted({k[0] for k in med}):
        for ig in ("ig-f32", "ig-f32-lowmem"):
            a, b = med.get((size, ig)), med.get((size, "sd-f32"))
            if a and b:
                print(f"{size:<5} sd-f32/{ig:<14} step {b['step'] / a['step']:.2f}x  vae {b['vae'] / a['vae']:.2f}x  "
                      f"wall {b['wall'] / a['wall']:.2f}x  cpu {b['cpu'] / a['cpu']:.2f}x  rss {b['rss'] / a['rss']:.2f}x")


if __name__ == "__main__":
    if len(sys.argv) == 9 and sys.argv[1] == "run":
        run(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "summary":
        summary(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
