#!/usr/bin/env bash
# bench_sd15.sh times `imagegen generate` on a random-weight SD 1.5-size
# checkpoint the way stable-diffusion.cpp was measured: float32, 2 threads,
# CFG 7 (cond and uncond in one batched UNet run), per-step and VAE-decode
# time at 256x256 and 512x512, and peak RSS from /usr/bin/time -v.
#
# Usage: scripts/bench_sd15.sh [CHECKPOINT_DIR] [REPEATS]
# Env: IMAGEGEN (binary; built from ./cmd/imagegen when unset), STEPS (3),
#      THREADS (2), SIZES ("256 512"), EXTRA (more generate flags, e.g. --low-mem),
#      IMAGEGEN_GRAPH_CACHE (cache folder; the first run of a model fills it),
#      IMAGEGEN_NO_GRAPH_CACHE=1 (load without the optimized-graph cache),
#      KEEP_PNG (path prefix: keep each picture as PREFIX-SIZE-RUN.png).
# wall_s is process start to PNG; cpu_s the process's user+system time
# (on a shared machine wall time also counts waiting for a core).
# Exports the checkpoint (imagegen export --arch sd15 --random-weights) when
# CHECKPOINT_DIR has no model_index.json. Needs python3 and GNU time.
set -euo pipefail
ckpt=${1:-/tmp/sd15exp}
repeats=${2:-1}
steps=${STEPS:-3}
threads=${THREADS:-2}
sizes=${SIZES:-"256 512"}
bin=${IMAGEGEN:-}
if [[ -z $bin ]]; then
	bin=$(mktemp -d)/imagegen
	go build -o "$bin" ./cmd/imagegen
fi
[[ -x /usr/bin/time ]] || { echo "bench_sd15: needs GNU time (apt-get install time)" >&2; exit 1; }
if [[ ! -f $ckpt/model_index.json ]]; then
	echo "exporting a random-weight SD 1.5 checkpoint to $ckpt ..." >&2
	"$bin" export --arch sd15 --random-weights "$ckpt"
fi
work=$(mktemp -d)
printf '%-5s %-3s %-10s %-12s %-9s %-8s %-8s %-8s %-7s %s\n' size run first_step median_step vae_s load_s wall_s cpu_s rss_gib loadavg
for size in $sizes; do
	for r in $(seq 1 "$repeats"); do
		la=$(cut -d' ' -f1-3 /proc/loadavg)
		/usr/bin/time -v -o "$work/time.txt" "$bin" generate --model "$ckpt" --prompt "a photo of a cat" \
			--steps "$steps" --guidance 7 --height "$size" --width "$size" --threads "$threads" \
			--seed 1 ${EXTRA:-} --json -o "$work/out.png" >"$work/out.json"
		[[ -n ${KEEP_PNG:-} ]] && cp "$work/out.png" "$KEEP_PNG-$size-$r.png"
		rss=$(awk -F: '/Maximum resident/ {print $2}' "$work/time.txt")
		python3 - "$work/out.json" "$size" "$r" "$rss" "$la" "$work/time.txt" <<'PY'
import json, statistics, sys
d = json.load(open(sys.argv[1]))
t = d["timings"]
steps = t["step_seconds"]
steady = steps[1:] or steps
tv = {}
for line in open(sys.argv[6]):
    k, _, v = line.strip().rpartition(": ")
    tv[k] = v
h, m, s = ([0, 0] + tv["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":"))[-3:]
wall = int(h) * 3600 + int(m) * 60 + float(s)
cpu = float(tv["User time (seconds)"]) + float(tv["System time (seconds)"])
print(f'{sys.argv[2]:<5} {sys.argv[3]:<3} {steps[0]:<10.2f} {statistics.median(steady):<12.2f} '
      f'{t["vae_seconds"]:<9.2f} {d["load_seconds"]:<8.1f} {wall:<8.1f} {cpu:<8.1f} {int(sys.argv[4]) / 2**20:<7.2f} {sys.argv[5]}')
PY
	done
done
