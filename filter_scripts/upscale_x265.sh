#!/usr/bin/env bash
# Upscale a video with vsvsr and encode it with x265 (10-bit HEVC), then mux the source's
# audio, subtitles, attachments and chapters back in, into an mkv.
#
#   upscale_x265.sh INPUT OUTPUT.mkv [SCALE] [-- extra vspipe -a args, e.g. -a weights=m.safetensors]
#
# Environment: CRF (default 18), PRESET (default slow), VSPIPE (default: vspipe on PATH).
# The output appears only when everything succeeded; a failure leaves nothing under OUTPUT.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/encode.sh" x265 "$@"
