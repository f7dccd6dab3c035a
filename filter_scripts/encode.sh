#!/usr/bin/env bash
# Shared body of upscale_x264.sh and upscale_x265.sh: vspipe | encoder, then an ffmpeg mux.
#   encode.sh x264|x265 INPUT OUTPUT.mkv [SCALE] [-- extra vspipe args]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
usage="usage: $(basename "$0") x264|x265 INPUT OUTPUT.mkv [SCALE] [-- extra vspipe args]"
encoder="${1:?$usage}"; input="${2:?$usage}"; output="${3:?$usage}"; shift 3
scale=2
if [ $# -gt 0 ] && [ "$1" != "--" ]; then scale="$1"; shift; fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
vspipe="${VSPIPE:-vspipe}"
crf="${CRF:-18}"; preset="${PRESET:-slow}"

[ -r "$input" ] || { echo "$(basename "$0"): cannot read input $input" >&2; exit 2; }
input="$(realpath "$input")"  # vspipe evaluates the script from its own folder
case "$output" in *.mkv) ;; *) echo "$(basename "$0"): OUTPUT must end in .mkv" >&2; exit 2 ;; esac
command -v "$encoder" >/dev/null || { echo "$(basename "$0"): $encoder not found; install it (apt-get install $encoder)" >&2; exit 2; }
command -v ffmpeg >/dev/null || { echo "$(basename "$0"): ffmpeg not found; install it (apt-get install ffmpeg)" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/vsvsr-encode.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Colour tags of the source, carried to the encode (both encoders take ffprobe's names).
colour=()
probe() { ffprobe -v error -select_streams v:0 -show_entries "stream=$1" -of csv=p=0 "$input" | tr -d '[:space:],'; }
for pair in color_space:--colormatrix color_primaries:--colorprim color_transfer:--transfer color_range:--range; do
  value="$(probe "${pair%%:*}")"
  case "$value" in ""|unknown|reserved) ;; *) colour+=("${pair#*:}" "$value") ;; esac
done

# Restoration-minded defaults: keep grain and fine detail (aq-mode 3, film tuning / no SAO).
if [ "$encoder" = x264 ]; then
  video="$work/video.mkv"
  "$vspipe" -c y4m -a src="$input" -a scale="$scale" "$@" "$here/upscale.vpy" - \
    | x264 --demuxer y4m --output-depth 10 --preset "$preset" --crf "$crf" --tune film \
        --aq-mode 3 "${colour[@]}" --output "$video" - 2>"$work/encoder.log" \
    || { cat "$work/encoder.log" >&2; exit 1; }
else
  video="$work/video.hevc"
  "$vspipe" -c y4m -a src="$input" -a scale="$scale" "$@" "$here/upscale.vpy" - \
    | x265 --y4m --input - --output-depth 10 --preset "$preset" --crf "$crf" \
        --aq-mode 3 --no-sao "${colour[@]}" --output "$video" 2>"$work/encoder.log" \
    || { cat "$work/encoder.log" >&2; exit 1; }
fi

# Raw HEVC carries no timestamps: wrap it in mp4 at the source's exact frame rate first (the
# matroska muxer refuses raw packets without them).
if [ "$encoder" = x265 ]; then
  rate="$(ffprobe -v error -select_streams v:0 -show_entries stream=r_frame_rate -of csv=p=0 "$input")"
  ffmpeg -v error -y -framerate "$rate" -i "$video" -c copy "$work/video.mp4"
  video="$work/video.mp4"
fi
tmp_out="$(dirname "$output")/.$(basename "$output").partial.mkv"
ffmpeg -v error -y -i "$video" -i "$input" \
  -map 0:v:0 -map 1:a? -map 1:s? -map 1:t? -map_chapters 1 -map_metadata 1 \
  -c copy "$tmp_out" || { rm -f "$tmp_out"; exit 1; }
mv -f "$tmp_out" "$output"
echo "$output"
