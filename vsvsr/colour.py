"""How a Y'CbCr (or gray) video maps to RGB, for both adapters: one table of names, one set of defaults.

VapourSynth spells a clip's colours as integer frame props (`_Matrix`, `_Range` or the older
`_ColorRange`, `_ChromaLocation`) and converts with zimg's names ("709", "limited", "top_left");
ffmpeg spells them as ffprobe's stream fields and its own options ("bt709", "tv", "topleft"),
and its zscale filter (zimg again) takes ffmpeg's names, bar one. `Colour` holds ffmpeg's names
(None where the video is untagged); each row of the tables below says how the other side writes
the same thing. Untagged videos get the same defaults on both sides (`Colour.resolved`), so the
VapourSynth filter and `vsvsr upscale` feed the engine the same RGB for the same decoded frames.

Transfer and primaries are tags only: the model learned gamma-encoded values, so neither side
linearises or maps gamuts; the pipeline carries them to its output, VapourSynth keeps the props.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple


class Name(NamedTuple):
    """One value under each side's spelling."""

    vapoursynth: int  # the frame prop's value (ITU-T H.273 codes for matrix and chroma siting)
    ffmpeg: str  # ffprobe's field value and ffmpeg's option value
    zimg: str  # VapourSynth resize's *_s argument


MATRICES = (
    Name(1, "bt709", "709"),
    Name(4, "fcc", "fcc"),
    Name(5, "bt470bg", "470bg"),  # BT.601 (625 lines)
    Name(6, "smpte170m", "170m"),  # BT.601 (525 lines)
    Name(7, "smpte240m", "240m"),
    Name(8, "ycgco", "ycgco"),
    Name(9, "bt2020nc", "2020ncl"),
    Name(10, "bt2020c", "2020cl"),
)
RANGES = (Name(0, "pc", "full"), Name(1, "tv", "limited"))  # codes of the older _ColorRange prop
CHROMA_LOCATIONS = (
    Name(0, "left", "left"),
    Name(1, "center", "center"),
    Name(2, "topleft", "top_left"),
    Name(3, "top", "top"),
    Name(4, "bottomleft", "bottom_left"),
    Name(5, "bottom", "bottom"),
)

# Where ffmpeg's own options spell a value differently from ffprobe's fields: zscale's matrix
# (ffmpeg 5.1's spelling) and -color_trc.
_ZSCALE_MATRIX = {"smpte240m": "smpte2400m"}
_TRC_OPTION = {"bt470m": "gamma22", "bt470bg": "gamma28"}
_UNSET = {None, "", "unknown", "unspecified", "reserved"}  # ffprobe's ways of saying "untagged"

# What an untagged video is taken to be. HD and larger is BT.709, SD sizes BT.601.
SD_LIMIT = (1024, 576)  # width, height: a frame larger in either is HD
DEFAULT_RANGE = "tv"  # limited
DEFAULT_CHROMA_LOCATION = "left"  # MPEG-2 / H.264 siting


def default_matrix(width: int, height: int) -> str:
    """The matrix an untagged video of this size is taken to use (ffmpeg's name)."""
    return "bt709" if width > SD_LIMIT[0] or height > SD_LIMIT[1] else "smpte170m"


def _by_ffmpeg(table: tuple[Name, ...], name: str) -> Name:
    for row in table:
        if row.ffmpeg == name:
            return row
    raise ValueError(f"no zimg name for {name!r}; known: {', '.join(r.ffmpeg for r in table)}")


def _by_vapoursynth(table: tuple[Name, ...], code: Any) -> str | None:
    return next((row.ffmpeg for row in table if row.vapoursynth == code), None)


@dataclass(frozen=True)
class Colour:
    """A video's colour tags in ffmpeg's names; None where untagged."""

    matrix: str | None = None  # "bt709", "smpte170m", "bt2020nc", ...
    range: str | None = None  # "tv" (limited) or "pc" (full)
    primaries: str | None = None
    transfer: str | None = None
    chroma_location: str | None = None  # "left", "center", "topleft", ...

    @classmethod
    def from_ffprobe(cls, stream: Mapping[str, Any]) -> Colour:
        """The tags of one ffprobe video stream entry."""
        fields = ("color_space", "color_range", "color_primaries", "color_transfer", "chroma_location")
        return cls(*(None if stream.get(f) in _UNSET else stream.get(f) for f in fields))

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> Colour:
        """The tags in a VapourSynth frame's props (transfer and primaries are not needed there:
        the props pass through). Unknown or unspecified codes count as untagged."""
        if "_Range" in props:  # R81's name for it: 1 = full
            colour_range = "pc" if props["_Range"] == 1 else "tv"
        else:  # older sources write _ColorRange: 0 = full
            colour_range = _by_vapoursynth(RANGES, props.get("_ColorRange"))
        return cls(matrix=_by_vapoursynth(MATRICES, props.get("_Matrix")), range=colour_range,
                   chroma_location=_by_vapoursynth(CHROMA_LOCATIONS, props.get("_ChromaLocation")))  # fmt: skip

    def resolved(self, width: int, height: int) -> Colour:
        """Matrix, range and chroma location made concrete for a video of this size: its own
        tags, else BT.709 above SD sizes and BT.601 at or below them; limited range; left chroma."""
        return Colour(self.matrix or default_matrix(width, height), self.range or DEFAULT_RANGE, self.primaries,
                      self.transfer, self.chroma_location or DEFAULT_CHROMA_LOCATION)  # fmt: skip

    def resize_args(self, direction: str) -> dict[str, str]:
        """VapourSynth resize's arguments converting from these colours (direction "_in") or to
        them (""), e.g. {"matrix_in_s": "709", "range_in_s": "limited", "chromaloc_in_s": "left"}.
        Call on a resolved Colour."""
        return {f"matrix{direction}_s": _by_ffmpeg(MATRICES, self.matrix).zimg,
                f"range{direction}_s": _by_ffmpeg(RANGES, self.range).zimg,
                f"chromaloc{direction}_s": _by_ffmpeg(CHROMA_LOCATIONS, self.chroma_location).zimg}  # fmt: skip

    def zscale_options(self, direction: str) -> dict[str, str]:
        """ffmpeg zscale's conversion options for YUV on the input side (direction "in") or the
        output side (""), e.g. {"matrixin": "bt709", "rangein": "tv", "chromalin": "left"}."""
        return {f"matrix{direction}": _ZSCALE_MATRIX.get(self.matrix, self.matrix),
                f"range{direction}": self.range, f"chromal{direction}": self.chroma_location}  # fmt: skip

    def tags(self, rgb: bool, stream: str = "") -> dict[str, str]:
        """ffmpeg output options (without their "-") tagging an encode with these colours (an
        RGB encode has no matrix and full range); `stream` a stream specifier such as ":v:0"."""
        pairs = [("color_primaries", self.primaries), ("color_trc", _TRC_OPTION.get(self.transfer, self.transfer))]
        if rgb:
            pairs += [("colorspace", "rgb"), ("color_range", "pc")]
        else:
            pairs += [("colorspace", self.matrix), ("color_range", self.range)]
            pairs += [("chroma_sample_location", self.chroma_location)]
        return {option + stream: value for option, value in pairs if value}
