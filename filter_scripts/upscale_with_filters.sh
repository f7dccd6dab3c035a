#!/usr/bin/env bash
# ffmpeg filters around the upscaler, all in one command: `vsvsr upscale` deinterlaces before
# upscaling (--vf-pre) and sharpens and sizes after it (--vf-post), encodes, and copies the
# source's audio, subtitles and chapters. Resumable: run it again with --resume after a crash.
#
#   upscale_with_filters.sh INPUT OUTPUT [extra vsvsr upscale args, e.g. --weights m.safetensors]
#
# Environment: VF_PRE (default "yadif=mode=send_frame": one frame per frame; use send_field for
# double rate), VF_POST (default "unsharp=5:5:0.3"), VSVSR (default: vsvsr on PATH).
set -euo pipefail
usage="usage: $(basename "$0") INPUT OUTPUT [extra vsvsr upscale args]"
input="${1:?$usage}"; output="${2:?$usage}"; shift 2
exec "${VSVSR:-vsvsr}" upscale "$input" "$output" \
  --vf-pre "${VF_PRE:-yadif=mode=send_frame}" --vf-post "${VF_POST:-unsharp=5:5:0.3}" "$@"
