"""Where a decoder may start: at a keyframe the scan found, instead of the top of the file.

A decoder that starts at the top and drops the frames before the first one it needs is exact
for any input, but a segment at frame p first decodes p frames: O(N^2) over a film cut into
segments. Seeking instead (`-ss` before the input) is exact where three things hold, and only
there does the scan record where to seek (`Scan.seeks`), so that everywhere else the decoder
keeps starting at the top:

- no `--vf-pre`: its temporal filters (bwdif, a denoiser) carry state from the frames before,
  and its frame count need not be the input's;
- a container whose timestamps a seek leaves as they were (KEEPS_TIMESTAMPS): tried on ffmpeg
  5.1 with ffv1, H.264 (B-pyramids, open GOPs, long GOPs at 5 fps), HEVC, VP9, MPEG-2 and
  MPEG-4 part 2, video starting after its audio, with and without --start, every frame of every
  file compared (framemd5) with a decode from the top. MPEG-TS and AVI failed: ffmpeg shifts a
  TS's timestamps to start at 0 when reading from the top and not after a seek, and guesses an
  AVI's B-frame timestamps differently after one; raw streams (.h264) have no timestamps;
- an undamaged input (the scan read every frame cleanly).

A keyframe here is a frame the decoder marks as a keyframe and codes as an I-frame: a point
from which every later frame decodes exactly (an IDR, an open GOP's I-frame, whose leading
B-frames come before it; not an intra-refresh frame, which is a P-frame). For each one the
decoder may seek to halfway between it and the frame after it: ffmpeg lands on a keyframe at or
before that time (that one, or an earlier one: no frame lies between the two), decodes from
there and drops the frames before the time, so the first frame out is the one after the
keyframe, whichever way the container rounded the timestamps; from it the decoder counts
frames. (ffmpeg 5.1 seeks Matroska streams with B-frames 3/23 s earlier than asked, so there it
lands one keyframe earlier: more decoding, the same frames.)
"""

from __future__ import annotations

import bisect
import re

from .probe import Source

# ffprobe's format_name of the demuxers tried (see above)
KEEPS_TIMESTAMPS = frozenset({"matroska,webm", "mov,mp4,m4a,3gp,3g2,mj2", "nut"})

Seek = tuple[int, int]  # (the frame after a keyframe, microseconds from --start to halfway between the two)


def seekable(source: Source, vf_pre: str | None) -> bool:
    """Whether a decoder of `source`'s video through `vf_pre` may start at a keyframe."""
    return vf_pre is None and source.container in KEEPS_TIMESTAMPS


def seek_point(seeks: tuple[Seek, ...], first: int, start: str | None) -> tuple[str, int] | None:
    """(ffmpeg's -ss, the first frame out) for a decoder whose first frame is `first`: the last of
    the scan's `seeks` at or before it; None where there is none (decode from `start`)."""
    at = bisect.bisect_right(seeks, first, key=lambda seek: seek[0]) - 1
    offset = microseconds(start) if start else 0
    if at < 0 or offset is None:
        return None
    frame, time = seeks[at]
    return f"{offset + time}us", frame


_DURATION = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{1,2})|(\d+)")


def microseconds(text: str) -> int | None:
    """A position in ffmpeg's duration syntax ([HH:]MM:SS[.m...] or S+[.m...][s|ms|us]) in
    microseconds, as ffmpeg 5.1's av_parse_time reads it; None for anything else (a negative
    position, 1e3)."""
    text = text.strip()
    match = _DURATION.match(text)
    if not match:
        return None
    hours, minutes, seconds, whole = match.groups()
    if whole is None and (int(minutes) > 59 or int(seconds) > 59):
        return None
    t = int(whole) if whole is not None else int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    rest = text[match.end() :]
    fraction = re.match(r"\.(\d*)", rest)
    micro = int((fraction.group(1) + "000000")[:6]) if fraction else 0
    rest = rest[fraction.end() :] if fraction else rest
    scale = {"": 1_000_000, "s": 1_000_000, "ms": 1000, "us": 1}.get(rest)
    if scale is None:
        return None
    return t * scale + micro * scale // 1_000_000
