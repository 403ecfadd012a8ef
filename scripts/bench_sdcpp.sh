#!/usr/bin/env bash
# bench_sdcpp.sh measures imagegen beside stable-diffusion.cpp in one sitting,
# on the same random-weight SD 1.5 weights: float32, THREADS threads each,
# CFG 7 (cond and uncond batched), Euler, STEPS steps, seed 1, 256x256 and
# 512x512; per-step and VAE-decode time, process wall and CPU time (start to
# PNG), peak RSS (/usr/bin/time -v), and for the quantized variants the PSNR
# of the picture against the same tool's float32 picture (scripts/psnr).
#
# Usage: SDCPP=/path/to/sd-cli scripts/bench_sdcpp.sh [ONNX_DIR] [OUT_DIR]
#
# SDCPP is stable-diffusion.cpp's command-line program, built beside the
# project (never a dependency of it). ONNX_DIR (default /tmp/sd15exp) is
# exported with `imagegen export --arch sd15 --random-weights` when it has no
# model_index.json; OUT_DIR (default ONNX_DIR-bench) receives the peer's
# safetensors copy of the same weights (scripts/diffusers_safetensors), the
# quantized copies (ONNX_DIR-q8, -q4, -q8conv, -q4conv beside ONNX_DIR), the
# optimized-graph cache, the pictures, runsTAG.tsv (one line per run) and
# summaryTAG.txt (medians per size and variant).
#
# Env: IMAGEGEN (binary; built from ./cmd/imagegen when unset), STEPS (4),
#   THREADS (2), SIZES ("256:3 512:1": size:repeats), VARIANTS (default all:
#   ig-f32 ig-f32-lowmem sd-f32 ig-q8 ig-q4 ig-q8conv ig-q4conv sd-q8_0 sd-q4_0),
#   SDCPP_FLAGS (more sd-cli flags, e.g. --mmap or --diffusion-fa),
#   TAG (suffix of this sitting's files, so that sittings with other settings
#   keep their own results beside the same weights and cache).
# Variants run interleaved (run 1 of every variant, then run 2, ...), so a
# change of the machine's load during the sitting reaches every variant alike.
# imagegen runs with its graph cache warm: each imagegen model is loaded once
# (64x64, 1 step, not timed) before the timed runs.
set -euo pipefail
: "${SDCPP:?set SDCPP to the sd-cli program of stable-diffusion.cpp}"
onnx=${1:-/tmp/sd15exp}
out=${2:-$onnx-bench}
steps=${STEPS:-4}
threads=${THREADS:-2}
sizes=${SIZES:-"256:3 512:1"}
variants=${VARIANTS:-"ig-f32 ig-f32-lowmem sd-f32 ig-q8 ig-q4 ig-q8conv ig-q4conv sd-q8_0 sd-q4_0"}
prompt="a photo of a cat"
[[ -x /usr/bin/time ]] || { echo "bench_sdcpp: needs GNU time (apt-get install time)" >&2; exit 1; }
[[ -x $SDCPP ]] || { echo "bench_sdcpp: SDCPP=$SDCPP is not an executable" >&2; exit 1; }
here=$(cd "$(dirname "$0")/.." && pwd)
tag=${TAG:-}
mkdir -p "$out/png$tag" "$out/logs$tag" "$out/bin"
bin=${IMAGEGEN:-}
if [[ -z $bin ]]; then
	bin=$out/bin/imagegen
	(cd "$here" && go build -o "$bin" ./cmd/imagegen)
fi
(cd "$here" && go build -o "$out/bin/psnr" ./scripts/psnr && go build -o "$out/bin/diffusers_safetensors" ./scripts/diffusers_safetensors)
export IMAGEGEN_GRAPH_CACHE=${IMAGEGEN_GRAPH_CACHE:-$out/graphs}
unset IMAGEGEN_NO_GRAPH_CACHE

if [[ ! -f $onnx/model_index.json ]]; then
	echo "exporting a random-weight SD 1.5 checkpoint to $onnx ..." >&2
	"$bin" export --arch sd15 --random-weights --seed 0 "$onnx"
fi
if [[ $variants == *sd-* && ! -d $out/safetensors ]]; then
	echo "writing the same weights as safetensors for the peer ..." >&2
	"$out/bin/diffusers_safetensors" "$onnx" "$out/safetensors"
fi

# model_dir VARIANT prints the imagegen checkpoint folder of an ig-* variant,
# quantizing it first when missing.
model_dir() {
	local q=${1#ig-}
	q=${q%-lowmem}
	[[ $q == f32 ]] && { echo "$onnx"; return; }
	local dir=$onnx-$q args
	case $q in
	q8) args="--bits 8" ;;
	q4) args="--bits 4" ;;
	q8conv) args="--bits 8 --conv" ;;
	q4conv) args="--bits 4 --conv" ;;
	*) echo "bench_sdcpp: unknown variant $1" >&2; exit 1 ;;
	esac
	if [[ ! -f $dir/model_index.json ]]; then
		echo "quantizing $onnx to $dir ($args) ..." >&2
		"$bin" --quiet quantize "$onnx" "$dir" $args >&2
	fi
	echo "$dir"
}

for v in $variants; do
	[[ $v == ig-* ]] || continue
	dir=$(model_dir "$v")
	echo "warming the graph cache for $v ..." >&2
	"$bin" --quiet generate --model "$dir" --prompt "$prompt" --steps 1 --height 64 --width 64 \
		--threads "$threads" --seed 1 -o "$out/logs$tag/warm.png"
done

tsv=$out/runs$tag.tsv
printf 'size\tvariant\trun\tstep_s\tvae_s\twall_s\tcpu_s\trss_gib\tload_before\tload_after\tpng\n' >"$tsv"
for spec in $sizes; do
	size=${spec%%:*}
	repeats=${spec#*:}
	for r in $(seq 1 "$repeats"); do
		for v in $variants; do
			png=$out/png$tag/$v-$size-$r.png
			log=$out/logs$tag/$v-$size-$r
			la=$(cut -d' ' -f1 /proc/loadavg)
			case $v in
			ig-*)
				extra=""
				[[ $v == *-lowmem ]] && extra="--low-mem"
				/usr/bin/time -v -o "$log.time" "$bin" --quiet generate --model "$(model_dir "$v")" --prompt "$prompt" \
					--scheduler EulerDiscreteScheduler --steps "$steps" --guidance 7 --height "$size" --width "$size" \
					--threads "$threads" --seed 1 $extra --json -o "$png" >"$log.out" 2>"$log.err"
				;;
			sd-*)
				typ=${v#sd-}
				typeflag=""
				[[ $typ == f32 ]] || typeflag="--type $typ"
				/usr/bin/time -v -o "$log.time" "$SDCPP" -m "$out/safetensors" -p "$prompt" \
					--sampling-method euler --steps "$steps" --cfg-scale 7 -H "$size" -W "$size" \
					-t "$threads" -s 1 $typeflag ${SDCPP_FLAGS:-} -o "$png" >"$log.out" 2>"$log.err"
				;;
			*) echo "bench_sdcpp: unknown variant $v" >&2; exit 1 ;;
			esac
			python3 "$here/scripts/bench_sdcpp_parse.py" run "$v" "$size" "$r" "$log" "$png" "$la" \
				"$(cut -d' ' -f1 /proc/loadavg)" >>"$tsv"
			tail -n1 "$tsv" >&2
		done
	done
done
python3 "$here/scripts/bench_sdcpp_parse.py" summary "$tsv" "$out/bin/psnr" | tee "$out/summary$tag.txt"
