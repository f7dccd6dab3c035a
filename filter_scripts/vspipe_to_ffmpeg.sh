#!/usr/bin/env bash
# VapourSynth first, ffmpeg after: vspipe upscales (upscale.vpy, core.vsr.SRGAN), ffmpeg runs a
# filter graph over the upscaled frames, encodes them and muxes the source's audio, subtitles and
# chapters back in.
#
#   vspipe_to_ffmpeg.sh INPUT OUTPUT [SCALE] [-- extra vspipe args, e.g. -a weights=m.safetensors]
#
# Environment: VF (ffmpeg filters after upscaling; default "unsharp=5:5:0.5"), CODEC (default
# libx264), CRF (default 18), PRESET (default medium), VSPIPE (default: vspipe on PATH).
# The output appears only when everything succeeded; a failure leaves nothing under OUTPUT.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
usage="usage: $(basename "$0") INPUT OUTPUT [SCALE] [-- extra vspipe args]"
input="${1:?$usage}"; output="${2:?$usage}"; shift 2
scale=2
if [ $# -gt 0 ] && [ "$1" != "--" ]; then scale="$1"; shift; fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
vspipe="${VSPIPE:-vspipe}"

[ -r "$input" ] || { echo "$(basename "$0"): cannot read input $input" >&2; exit 2; }
input="$(realpath "$input")"  # vspipe evaluates the script from its own folder
command -v ffmpeg >/dev/null || { echo "$(basename "$0"): ffmpeg not found; install it (apt-get install ffmpeg)" >&2; exit 2; }

tmp_out="$(dirname "$output")/.$(basename "$output").partial.${output##*.}"
trap 'rm -f "$tmp_out"' EXIT
# y4m carries the exact frame rate; the source (input 1) brings audio, subtitles and chapters.
"$vspipe" -c y4m -a src="$input" -a scale="$scale" "$@" "$here/upscale.vpy" - \
  | ffmpeg -hide_banner -nostdin -v error -f yuv4mpegpipe -i - -i "$input" \
      -map 0:v -map '1:a?' -map '1:s?' -map_chapters 1 -map_metadata 1 \
      -vf "${VF:-unsharp=5:5:0.5}" -c:v "${CODEC:-libx264}" -crf "${CRF:-18}" -preset "${PRESET:-medium}" \
      -c:a copy -c:s copy -y "$tmp_out"
mv -f "$tmp_out" "$output"
echo "$output"
