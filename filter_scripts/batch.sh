#!/usr/bin/env bash
# Upscale every video in a folder, one vspipe job each; finished outputs are skipped, so an
# interrupted batch simply runs again.
#
#   batch.sh IN_DIR OUT_DIR [SCALE] [x264|x265] [-- extra vspipe args]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
usage="usage: $(basename "$0") IN_DIR OUT_DIR [SCALE] [x264|x265] [-- extra vspipe args]"
in_dir="${1:?$usage}"; out_dir="${2:?$usage}"; shift 2
scale=2; encoder=x265
if [ $# -gt 0 ] && [ "$1" != "--" ]; then scale="$1"; shift; fi
if [ $# -gt 0 ] && [ "$1" != "--" ]; then encoder="$1"; shift; fi
[ -d "$in_dir" ] || { echo "$(basename "$0"): $in_dir is not a folder" >&2; exit 2; }
mkdir -p "$out_dir"

status=0
shopt -s nullglob nocaseglob
for input in "$in_dir"/*.{mkv,mp4,mov,avi,webm,m2ts,ts,y4m}; do
  output="$out_dir/$(basename "${input%.*}").mkv"
  if [ -e "$output" ]; then
    echo "skip (done): $output" >&2
    continue
  fi
  echo "upscale: $input -> $output" >&2
  "$here/encode.sh" "$encoder" "$input" "$output" "$scale" "$@" || { echo "failed: $input" >&2; status=1; }
done
exit "$status"
