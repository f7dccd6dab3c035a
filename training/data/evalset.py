"""The built-in evaluation set, and user clip folders read the same way.

Seven clips of ten HR frames, made only from the EVAL sources (training never reads them):
five photos filmed by a synthetic camera (training.data.motion) and two shots of real street
footage. They are rebuilt on first use into ``$XDG_CACHE_HOME/vsvsr/evalset/<VERSION>/``
(default ``~/.cache``) and every clip is checked against the committed hash manifest
``evalset_manifest.json``, so everyone evaluates on the same pixels. HR sides are multiples
of 4, so x2 and x4 share one ground truth; the LR inputs are made from it by
vsvsr.resize.downsample (bicubic or bilinear, the paper's two conditions).

After a deliberate change to the clips or their sources, bump VERSION and rewrite the
manifest:  python -m training.data.evalset --write-manifest
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import sources
from .motion import CameraMotion, photo_sequence

VERSION = "v1"
MANIFEST_PATH = Path(__file__).with_name("evalset_manifest.json")
FRAMES = 10  # two windows of the generators' 5 frames
HR_MULTIPLE = 4  # sides divisible by every scale, so x2 and x4 share the ground truth
MIN_SIDE = 48  # tOF and tLP crop TecoGAN's borders and need 48x48 frames
FRAME_SUFFIXES = (".png",)


class EvalDataError(RuntimeError):
    """Evaluation data that cannot be used as it is; the message says what to do."""


@dataclass(frozen=True)
class Clip:
    """One evaluation clip: its HR frames and where they came from."""

    name: str
    hr: torch.Tensor  # (T, 3, H, W) uint8
    origin: str


@dataclass(frozen=True)
class PhotoClip:
    """A clip filmed from an EVAL photo by a synthetic camera."""

    name: str
    source: str
    motion: CameraMotion
    size: tuple[int, int]  # HR (width, height)
    reduce: float = 1.5  # photo pixels per HR pixel
    frames: int = FRAMES

    def use(self) -> sources.Use:
        return sources.Use(self.source)

    def origin(self) -> str:
        m = self.motion
        return (
            f"{sources.SOURCES[self.source].label}, camera pan {m.pan} px/frame, zoom {m.zoom}/frame, "
            f"rotation {m.rotation} deg/frame, reduced {self.reduce}x"
        )

    def build(self) -> np.ndarray:
        return photo_sequence(sources.read_photo(self.source), self.motion, self.frames, self.size, self.reduce)


@dataclass(frozen=True)
class VideoClip:
    """Consecutive frames of an EVAL video, cropped to `box`."""

    name: str
    source: str
    first_frame: int
    box: tuple[int, int, int, int]  # left, top, width, height in the video's pixels
    frames: int = FRAMES

    def use(self) -> sources.Use:
        return sources.Use(self.source, range(self.first_frame, self.first_frame + self.frames))

    def origin(self) -> str:
        last = self.first_frame + self.frames - 1
        return f"{sources.SOURCES[self.source].label}, frames {self.first_frame}-{last}, crop {self.box}"

    def build(self) -> np.ndarray:
        left, top, width, height = self.box
        video = sources.read_video(self.source, self.use().frames)
        return np.ascontiguousarray(video[:, top : top + height, left : left + width])


ClipSpec = PhotoClip | VideoClip

CLIPS: tuple[ClipSpec, ...] = (
    PhotoClip("coffee", "coffee", CameraMotion(pan=(1.37, 0.42), zoom=1.004, rotation=0.12), (320, 224)),
    PhotoClip("grace_hopper", "grace_hopper", CameraMotion(pan=(-0.63, 1.18), zoom=0.997, rotation=-0.09), (288, 344)),
    PhotoClip("flower", "flower", CameraMotion(pan=(0.81, -0.57), zoom=1.006, rotation=0.2), (352, 240)),
    PhotoClip("rocket", "rocket", CameraMotion(pan=(-1.21, -0.33), zoom=1.003, rotation=-0.15), (352, 240)),
    PhotoClip("brick", "brick", CameraMotion(pan=(0.47, 0.89), zoom=0.996, rotation=0.25), (288, 288)),
    VideoClip("bikes_street", "bikes", 150, (256, 0, 384, 256)),
    VideoClip("bikes_wall", "bikes", 195, (160, 16, 384, 256)),
)  # fmt: skip


def cache_root() -> Path:
    """Where built clips are kept: $XDG_CACHE_HOME/vsvsr/evalset (default ~/.cache/...)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vsvsr" / "evalset"


def builtin(cache: Path | None = None) -> list[Clip]:
    """The built-in evaluation clips, from the cache under `cache` (default cache_root()) or
    rebuilt from the sources, each checked against the manifest. EvalDataError on a mismatch."""
    expected = _read_manifest()
    folder = (cache or cache_root()) / VERSION
    clips = []
    for spec in CLIPS:
        want = expected["clips"].get(spec.name, {}).get("sha256")
        frames = _read_frames(folder / spec.name)
        if frames is None or clip_sha256(frames) != want:
            frames = spec.build()
            got = clip_sha256(frames)
            if got != want:
                raise EvalDataError(
                    f"built-in evaluation clip {spec.name!r} rebuilt with sha256 {got}, but the manifest "
                    f"{MANIFEST_PATH.name} says {want}: the libraries that build it (OpenCV, Pillow, ffmpeg) "
                    f"or its sources differ from the ones the manifest was made with; install the pinned "
                    f"versions (make setup), or after a deliberate change bump VERSION and run "
                    f"python -m training.data.evalset --write-manifest"
                )
            _write_frames(folder / spec.name, frames)
        clips.append(Clip(spec.name, _to_tensor(frames), spec.origin()))
    return clips


def from_folder(path: str | os.PathLike) -> list[Clip]:
    """User clips: `path` holds one folder per clip, each holding that clip's HR frames as PNG
    files in name order (the Vid4/REDS layout, e.g. ``path/calendar/00000000.png``). Frames are
    cropped at the right and bottom to multiples of 4 (SR's "modcrop")."""
    root = Path(path)
    if not root.is_dir():
        raise EvalDataError(f"--data {path}: no such folder; pass a folder of clip folders, or 'builtin'")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and _frame_files(p))
    if not folders:
        raise EvalDataError(
            f"--data {path}: no clips found; it must hold one folder per clip with PNG frames "
            f"({path}/<clip>/0000.png, 0001.png, ...)"
        )
    clips = []
    for folder in folders:
        frames = _modcrop(_read_folder(folder), HR_MULTIPLE)
        height, width = frames.shape[1:3]
        if len(frames) < 2 or min(height, width) < MIN_SIDE:
            raise EvalDataError(
                f"clip {folder}: needs at least 2 frames of at least {MIN_SIDE}x{MIN_SIDE} pixels "
                f"(after cropping to multiples of {HR_MULTIPLE}), has {len(frames)} of {width}x{height}"
            )
        clips.append(Clip(folder.name, _to_tensor(frames), str(folder)))
    return clips


def clip_sha256(frames: np.ndarray) -> str:
    """sha256 of a clip's pixels ((T, H, W, 3) uint8) and shape; independent of PNG encoding."""
    digest = hashlib.sha256(str(frames.shape).encode())
    digest.update(np.ascontiguousarray(frames, dtype=np.uint8).tobytes())
    return digest.hexdigest()


def manifest() -> dict:
    """Build every clip from its sources and describe the result: the manifest file's content."""
    return {
        "version": VERSION,
        "sources": sources.manifest(tuple(dict.fromkeys(spec.use() for spec in CLIPS))),
        "clips": {
            spec.name: {"origin": spec.origin(), "frames": spec.frames, "sha256": clip_sha256(spec.build())}
            for spec in CLIPS
        },
    }


def _read_manifest() -> dict:
    with open(MANIFEST_PATH) as f:
        expected = json.load(f)
    if expected.get("version") != VERSION:
        raise EvalDataError(
            f"{MANIFEST_PATH.name} is for evaluation set {expected.get('version')}, the code builds {VERSION}; "
            f"run python -m training.data.evalset --write-manifest"
        )
    return expected


def _frame_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and not p.name.startswith("."))


def _read_folder(folder: Path) -> np.ndarray:
    frames = []
    for path in _frame_files(folder):
        with Image.open(path) as image:
            frames.append(np.asarray(image.convert("RGB")))
    sizes = {f.shape for f in frames}
    if len(sizes) > 1:
        raise EvalDataError(f"clip {folder}: frames differ in size ({sorted(sizes)}); one clip has one frame size")
    return np.stack(frames)


def _read_frames(folder: Path) -> np.ndarray | None:
    """A cached clip's frames, or None when it is not (completely) cached."""
    if not folder.is_dir() or not _frame_files(folder):
        return None
    try:
        return _read_folder(folder)
    except (OSError, EvalDataError):
        return None


def _write_frames(folder: Path, frames: np.ndarray) -> None:
    # No temporary files needed: a half-written cache fails its hash check and is rebuilt.
    folder.mkdir(parents=True, exist_ok=True)
    for stale in _frame_files(folder):
        stale.unlink()
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{index:04d}.png")


def _modcrop(frames: np.ndarray, multiple: int) -> np.ndarray:
    height, width = frames.shape[1:3]
    return frames[:, : height - height % multiple, : width - width % multiple]


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 array -> (T, 3, H, W) uint8 tensor."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).contiguous()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m training.data.evalset", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--write-manifest", action="store_true", help=f"rebuild every clip and rewrite {MANIFEST_PATH.name}"
    )
    args = parser.parse_args()
    if not args.write_manifest:
        parser.error("nothing to do; pass --write-manifest")
    MANIFEST_PATH.write_text(json.dumps(manifest(), indent=2) + "\n")


if __name__ == "__main__":
    main()
