"""vsvsr.colour: one table of colour names for VapourSynth's props, zimg and ffmpeg, and one set
of defaults for untagged video, checked against what VapourSynth and ffmpeg themselves accept."""

import re
import subprocess

import numpy as np
import pytest
import vapoursynth as vs

from vsvsr.colour import CHROMA_LOCATIONS, MATRICES, Colour, default_matrix

core = vs.core


def test_untagged_video_gets_the_same_defaults_from_props_and_from_ffprobe():
    for width, height, matrix in ((720, 576, "170m"), (1024, 576, "170m"), (1280, 720, "709"), (640, 1080, "709")):
        from_props = Colour.from_props({}).resolved(width, height)
        from_ffprobe = Colour.from_ffprobe({"color_space": "unknown", "color_range": "unknown"}).resolved(width, height)
        assert from_props == from_ffprobe
        assert from_props.resize_args("_in") == {"matrix_in_s": matrix, "range_in_s": "limited", "chromaloc_in_s": "left"}
    assert default_matrix(1025, 576) == "bt709" and default_matrix(1024, 577) == "bt709"


def test_vapoursynth_props_map_to_ffmpeg_names():
    tagged = Colour.from_props({"_Matrix": 9, "_Range": 1, "_ChromaLocation": 2}).resolved(720, 480)
    assert (tagged.matrix, tagged.range, tagged.chroma_location) == ("bt2020nc", "pc", "topleft")
    assert tagged.resize_args("") == {"matrix_s": "2020ncl", "range_s": "full", "chromaloc_s": "top_left"}
    # The older _ColorRange counts the other way round: 0 is full range.
    assert Colour.from_props({"_ColorRange": 0}).range == "pc"
    assert Colour.from_props({"_ColorRange": 1}).range == "tv"
    assert Colour.from_props({"_Range": 0, "_ColorRange": 0}).range == "tv"  # _Range wins
    # Unspecified (2), reserved (3) and unknown codes are untagged.
    assert Colour.from_props({"_Matrix": 2}).matrix is None and Colour.from_props({"_Matrix": 3}).matrix is None
    assert Colour.from_props({"_ChromaLocation": 9}).chroma_location is None


def test_ffprobe_unset_tags_are_none():
    colour = Colour.from_ffprobe({"color_space": "bt709", "color_range": "unknown", "color_transfer": "reserved",
                                  "color_primaries": "", "chroma_location": "unspecified"})  # fmt: skip
    assert colour == Colour(matrix="bt709")


def _random_clip(fmt: int, seed: int) -> vs.VideoNode:
    rng = np.random.default_rng(seed)

    def fill(n, f):
        out = f.copy()
        for p in range(3):
            plane = np.asarray(out[p])
            plane[:] = rng.uniform(0.2, 0.8, plane.shape) if p == 0 else rng.uniform(-0.3, 0.3, plane.shape)
        return out

    clip = core.std.BlankClip(format=fmt, width=16, height=8, length=1)
    return clip.std.ModifyFrame(clip, fill)


def _same(a: vs.VideoNode, b: vs.VideoNode) -> bool:
    fa, fb = a.get_frame(0), b.get_frame(0)
    return all(np.array_equal(np.asarray(fa[p]), np.asarray(fb[p])) for p in range(3))


@pytest.mark.parametrize("row", MATRICES, ids=lambda r: r.zimg)
def test_each_matrix_zimg_name_is_the_props_code(row):
    """VapourSynth's resize converts the same with the zimg name as with the _Matrix code."""
    clip = _random_clip(vs.YUV444PS, row.vapoursynth)
    args = {"format": vs.RGBS, "transfer_in_s": "709", "transfer_s": "709"}  # (constant luminance needs one)
    assert _same(clip.resize.Point(**args, matrix_in_s=row.zimg), clip.resize.Point(**args, matrix_in=row.vapoursynth))


@pytest.mark.parametrize("row", CHROMA_LOCATIONS, ids=lambda r: r.zimg)
def test_each_chroma_location_zimg_name_is_the_props_code(row):
    clip = _random_clip(vs.YUV420PS, row.vapoursynth)
    args = {"format": vs.RGBS, "matrix_in_s": "709"}
    by_name = clip.resize.Bicubic(**args, chromaloc_in_s=row.zimg)
    assert _same(by_name, clip.resize.Bicubic(**args, chromaloc_in=row.vapoursynth))
    if row.vapoursynth:  # and the siting matters: it differs from the default's (left) conversion
        assert not _same(by_name, clip.resize.Bicubic(**args, chromaloc_in=0))


def _zscale_values(option: str) -> dict[str, int]:
    """{name: code} of one zscale option, as this ffmpeg lists them."""
    text = subprocess.run(["ffmpeg", "-hide_banner", "-h", "filter=zscale"], capture_output=True, text=True).stdout
    block = re.search(rf"^   {option} .*?\n((?:     .*\n)+)", text, re.MULTILINE).group(1)
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^     (\S+)\s+(-?\d+)", block, re.MULTILINE)}


def test_zscale_takes_each_name_for_the_same_code():
    matrices, chroma = _zscale_values("matrix"), _zscale_values("chromal")
    for row in MATRICES:
        name = Colour(matrix=row.ffmpeg).zscale_options("in")["matrixin"]
        assert matrices[name] == row.vapoursynth, row
    for row in CHROMA_LOCATIONS:
        assert chroma[Colour(chroma_location=row.ffmpeg).zscale_options("")["chromal"]] == row.vapoursynth, row
