"""The built-in evaluation sets, and user clip folders read the same way.

- ``builtin``: seven clips of ten HR frames from the EVAL sources: five photos filmed by a
  synthetic camera (training.data.motion) and two shots of real street footage. Training
  never reads these files, but they come from the packages (and, for bikes, the video) that
  training reads: the set measures a model on material like its training data.
- ``unseen``: clips from the UNSEEN sources, Debian packages that nothing else in the project
  reads (no package, photographer's series, video or shot in common with training): what a
  user's footage looks like to the model. The shipping bars are measured on it.

Clips are rebuilt on first use into ``$XDG_CACHE_HOME/vsvsr/evalset/<set>/<version>/``
(default ``~/.cache``) and each
is checked against its set's committed hash manifest, so everyone evaluates on the same
pixels. HR sides are multiples of 4, so x2 and x4 share one ground truth; the LR inputs are
made from it by vsvsr.resize.downsample (bicubic or bilinear, the paper's two conditions),
and for the compressed conditions then encoded by a real codec (training.scoring).

After a deliberate change to a set's clips or their sources, bump its version and rewrite
its manifest:  python -m training.data.evalset --write-manifest unseen
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

from vsvsr.cache import cache_root as vsvsr_cache_root
from vsvsr.errors import UserError

from . import sources
from .motion import CameraMotion, photo_sequence

FRAMES = 10  # two windows of the generators' 5 frames
HR_MULTIPLE = 4  # sides divisible by every scale, so x2 and x4 share the ground truth
MIN_SIDE = 48  # tOF and tLP crop TecoGAN's borders and need 48x48 frames
FRAME_SUFFIXES = (".png",)


class EvalDataError(UserError, RuntimeError):
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
        return video[:, top : top + height, left : left + width].copy()  # a writable copy of the decoded bytes


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


# From sources.UNSEEN only. Photos filmed as real footage moves (a fast pan over a meadow, a zoom
# onto a butterfly, a slow pan over clouds, a diagonal drift over dogs on grass, a handheld sweep
# over a room, a pan over a city) at a
# reduction that shows a scene, not a detail; and three shots of real camera video (a phone and
# a handheld camera), cropped where the subject is.
UNSEEN_CLIPS: tuple[ClipSpec, ...] = (
    PhotoClip("meadow", "lxqt_flowers", CameraMotion(pan=(1.8, 0.6), zoom=1.0, rotation=0.05), (384, 256), reduce=3.0),
    PhotoClip("butterfly_zoom", "lxqt_butterfly", CameraMotion(pan=(0.2, -0.1), zoom=1.008, rotation=0.0), (384, 256), reduce=3.0),
    PhotoClip("sunset_pan", "lxqt_after_the_rain", CameraMotion(pan=(0.6, 0.0), zoom=1.0, rotation=0.0), (384, 256), reduce=2.5),
    PhotoClip("dogs_park", "forensics_img_20200608_111614", CameraMotion(pan=(-1.0, 1.4), zoom=0.998, rotation=0.2), (352, 256), reduce=4.0),
    PhotoClip("table_sweep", "forensics_img_20191224_234846", CameraMotion(pan=(2.5, -0.8), zoom=1.002, rotation=-0.1), (384, 256), reduce=4.0),
    PhotoClip("city", "forensics_img_1054", CameraMotion(pan=(-1.3, 0.5), zoom=0.996, rotation=0.1), (384, 256), reduce=1.5),
    VideoClip("cockatoo_face", "imageio_cockatoo", 200, (720, 200, 384, 256)),
    VideoClip("cockatoo_turn", "imageio_cockatoo", 250, (860, 100, 384, 256)),
    VideoClip("dog_phone", "forensics_vid_20191220_170832", 20, (576, 384, 384, 256)),
    VideoClip("window_handheld", "imageio_realshort", 10, (0, 0, 320, 240)),
)  # fmt: skip


@dataclass(frozen=True)
class EvalSet:
    name: str
    version: str
    specs: tuple[ClipSpec, ...]
    manifest_name: str  # beside this module

    @property
    def manifest_path(self) -> Path:
        return Path(__file__).parent / self.manifest_name

    def folder(self, cache: Path) -> Path:
        return cache / self.name / self.version


SETS = {
    s.name: s
    for s in (
        EvalSet("builtin", "v1", CLIPS, "evalset_manifest.json"),
        EvalSet("unseen", "v1", UNSEEN_CLIPS, "evalset_unseen_manifest.json"),
    )
}


def cache_root() -> Path:
    """Where built clips are kept: $XDG_CACHE_HOME/vsvsr/evalset (default ~/.cache/...)."""
    return vsvsr_cache_root() / "evalset"


def label(data: str) -> str:
    """How tables name `data`: a built-in set by its name, a folder by its last part."""
    return data if data in SETS else Path(data).name


def clips(data: str) -> list[Clip]:
    """The clips `data` names: a built-in set ("builtin", "unseen") or a folder of clip folders."""
    return named(data) if data in SETS else from_folder(data)


def named(name: str, cache: Path | None = None) -> list[Clip]:
    """Built-in set `name`'s clips, from the cache under `cache` (default cache_root()) or
    rebuilt from the sources, each checked against the manifest. EvalDataError on a mismatch."""
    evalset = SETS[name]
    expected = _read_manifest(evalset)
    folder = evalset.folder(cache or cache_root())
    found = []
    for spec in evalset.specs:
        want = expected["clips"].get(spec.name, {}).get("sha256")
        frames = _read_frames(folder / spec.name)
        if frames is None or clip_sha256(frames) != want:
            frames = spec.build()
            got = clip_sha256(frames)
            if got != want:
                raise EvalDataError(
                    f"{name} evaluation clip {spec.name!r} rebuilt with sha256 {got}, but the manifest "
                    f"{evalset.manifest_name} says {want}: the libraries that build it (OpenCV, Pillow, ffmpeg) "
                    f"or its sources differ from the ones the manifest was made with; install the pinned "
                    f"versions (make setup, make data), or after a deliberate change bump its version and run "
                    f"python -m training.data.evalset --write-manifest {name}"
                )
            _write_frames(folder / spec.name, frames)
        found.append(Clip(spec.name, _to_tensor(frames), spec.origin()))
    return found


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


def manifest(name: str) -> dict:
    """Build every clip of set `name` from its sources and describe the result: the content
    of its manifest file."""
    evalset = SETS[name]
    return {
        "version": evalset.version,
        "sources": sources.manifest(tuple(dict.fromkeys(spec.use() for spec in evalset.specs))),
        "clips": {
            spec.name: {"origin": spec.origin(), "frames": spec.frames, "sha256": clip_sha256(spec.build())}
            for spec in evalset.specs
        },
    }


def _read_manifest(evalset: EvalSet) -> dict:
    with open(evalset.manifest_path) as f:
        expected = json.load(f)
    if expected.get("version") != evalset.version:
        raise EvalDataError(
            f"{evalset.manifest_name} is for {evalset.name} evaluation set {expected.get('version')}, the code "
            f"builds {evalset.version}; run python -m training.data.evalset --write-manifest {evalset.name}"
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
    parser.add_argument("--write-manifest", choices=tuple(SETS), metavar="SET",
                        help=f"rebuild every clip of SET ({', '.join(SETS)}) and rewrite its manifest")  # fmt: skip
    args = parser.parse_args()
    if not args.write_manifest:
        parser.error("nothing to do; pass --write-manifest SET")
    SETS[args.write_manifest].manifest_path.write_text(json.dumps(manifest(args.write_manifest), indent=2) + "\n")


if __name__ == "__main__":
    main()
