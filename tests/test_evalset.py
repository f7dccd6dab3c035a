"""The built-in evaluation set: rebuilt from its sources it matches the committed manifest, it
reads nothing training reads, and it behaves like an SR benchmark (lanczos beats bicubic)."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from training.data import evalset, sources
from training.data.motion import CameraMotion, photo_sequence
from training.scoring import downsample, upscale_baseline
from vsvsr import metrics


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("evalset-cache")


@pytest.fixture(scope="module")
def clips(cache) -> list[evalset.Clip]:
    """Built from scratch into an empty cache: builtin() raises unless every clip matches."""
    return evalset.named("builtin", cache)


def test_builds_every_clip_matching_the_manifest(clips, cache):
    manifest = json.loads(evalset.SETS["builtin"].manifest_path.read_text())
    assert [c.name for c in clips] == [s.name for s in evalset.SETS["builtin"].specs] == list(manifest["clips"])
    for clip in clips:
        frames, channels, height, width = clip.hr.shape
        assert clip.hr.dtype == torch.uint8 and channels == 3
        assert 8 <= frames <= 10
        assert height % 4 == 0 and width % 4 == 0 and min(height, width) >= 192
        assert evalset.clip_sha256(clip.hr.permute(0, 2, 3, 1).numpy()) == manifest["clips"][clip.name]["sha256"]
    cached = evalset.named("builtin", cache)  # a second load reads the cache and gets the same pixels
    assert all(torch.equal(a.hr, b.hr) for a, b in zip(clips, cached))


def test_manifest_records_the_sources_the_clips_read():
    manifest = json.loads(evalset.SETS["builtin"].manifest_path.read_text())
    uses = tuple(dict.fromkeys(spec.use() for spec in evalset.SETS["builtin"].specs))
    assert manifest["sources"] == sources.manifest(uses)
    assert manifest["version"] == evalset.SETS["builtin"].version


def test_damaged_cache_is_rebuilt(clips, cache):
    victim = evalset.SETS["builtin"].folder(cache) / clips[0].name / "0003.png"
    Image.new("RGB", (8, 8)).save(victim)
    assert torch.equal(evalset.named("builtin", cache)[0].hr, clips[0].hr)


def test_rebuild_that_misses_the_manifest_is_an_error(clips, cache, tmp_path, monkeypatch):
    manifest = json.loads(evalset.SETS["builtin"].manifest_path.read_text())
    manifest["clips"][clips[0].name]["sha256"] = "0" * 64
    wrong = tmp_path / "manifest.json"
    wrong.write_text(json.dumps(manifest))
    monkeypatch.setitem(evalset.SETS, "builtin", dataclasses.replace(evalset.SETS["builtin"], manifest_name=str(wrong)))
    with pytest.raises(evalset.EvalDataError, match=f"{clips[0].name}.*--write-manifest"):
        evalset.named("builtin", cache)


def test_train_and_eval_sources_are_disjoint():
    def photos(uses):
        return {u.source for u in uses if not sources.SOURCES[u.source].is_video}

    train_photos, eval_photos = photos(sources.TRAIN), photos(sources.EVAL)
    assert not train_photos & eval_photos
    assert not {sources.SOURCES[n].sha256 for n in train_photos} & {sources.SOURCES[n].sha256 for n in eval_photos}
    # Videos may be shared only by disjoint frame ranges.
    for eval_use in sources.EVAL:
        for train_use in sources.TRAIN:
            if eval_use.source == train_use.source:
                a, b = eval_use.frame_range(), train_use.frame_range()
                assert a is not None and b is not None, eval_use
                assert not set(a) & set(b), (eval_use, train_use)
    # Every listed use names a listed source, and every file is listed once.
    assert all(u.source in sources.SOURCES for u in sources.TRAIN + sources.EVAL + sources.UNSEEN)
    assert len({s.sha256 for s in sources.SOURCES.values()}) == len(sources.SOURCES)


def test_unseen_clips_match_their_manifest():
    unseen = evalset.SETS["unseen"]
    manifest = json.loads(unseen.manifest_path.read_text())
    assert [s.name for s in unseen.specs] == list(manifest["clips"])
    assert len(unseen.specs) >= 8 and sum(isinstance(s, evalset.VideoClip) for s in unseen.specs) >= 3
    for spec in unseen.specs:  # sizes as the specs state them: building all ten takes half a minute
        width, height = spec.size if isinstance(spec, evalset.PhotoClip) else spec.box[2:]
        assert manifest["clips"][spec.name]["frames"] == spec.frames == 10
        assert height % 4 == 0 and width % 4 == 0 and min(height, width) >= 192
    uses = tuple(dict.fromkeys(spec.use() for spec in unseen.specs))
    assert manifest["sources"] == sources.manifest(uses)
    # The quickest photo filmed by the camera and video crop, rebuilt from their sources: the two
    # code paths every clip takes, through the pinned OpenCV, Pillow and ffmpeg.
    rebuilt = [s for s in unseen.specs if s.name in ("city", "window_handheld")]
    assert {type(s) for s in rebuilt} == {evalset.PhotoClip, evalset.VideoClip}
    for spec in rebuilt:
        frames = spec.build()
        assert frames.shape[0] == spec.frames
        assert evalset.clip_sha256(frames) == manifest["clips"][spec.name]["sha256"], spec.name


def test_unseen_shares_no_package_file_or_video_with_what_training_and_builtin_read():
    """Source-disjoint: no package (Python or Debian), no file (by hash) and so no video or shot
    of the unseen set is read by training or by the builtin set."""

    def packages(uses):
        return {sources.SOURCES[u.source].package for u in uses}

    def hashes(uses):
        return {sources.SOURCES[u.source].sha256 for u in uses}

    others = sources.TRAIN + sources.EVAL
    assert not packages(sources.UNSEEN) & packages(others)
    assert not hashes(sources.UNSEEN) & hashes(others)
    # The unseen clips read only UNSEEN sources, and every UNSEEN source is a Debian package's.
    assert {spec.use().source for spec in evalset.SETS["unseen"].specs} <= {u.source for u in sources.UNSEEN}
    assert all(sources.SOURCES[u.source].package.startswith(sources.DEBIAN) for u in sources.UNSEEN)
    # And the packages that copy the Python packages' photos are not read at all.
    assert not {"debian:python3-skimage", "debian:python3-sklearn", "debian:facedetect"} & packages(
        tuple(sources.Use(name) for name in sources.SOURCES))


def test_the_widened_training_data_is_real_and_plentiful():
    photos = [u for u in sources.TRAIN if not sources.SOURCES[u.source].is_video]
    videos = {u.source for u in sources.TRAIN if sources.SOURCES[u.source].is_video}
    assert len(photos) >= 60 and len(videos) >= 6
    assert all(sources.SOURCES[s].frame_count for s in videos)


def test_clips_read_only_eval_sources():
    for spec in evalset.SETS["builtin"].specs:
        read = spec.use()
        covering = [u for u in sources.EVAL if u.source == read.source]
        assert covering, f"{spec.name} reads {read.source}, which is not an EVAL source"
        frames = read.frame_range()
        if frames is not None:
            assert any(set(frames) <= set(u.frame_range()) for u in covering), spec.name


@pytest.mark.parametrize("scale", [2, 4])
def test_lanczos_beats_bicubic_on_psnr(clips, scale):
    def mean_psnr(method: str) -> float:
        scores = []
        for clip in clips:
            up = upscale_baseline(downsample(clip.hr, scale, "bicubic"), scale, method)
            scores.append(metrics.psnr_y(up.float() / 255, clip.hr.float() / 255, crop=scale).mean().item())
        return float(np.mean(scores))

    assert mean_psnr("lanczos") > mean_psnr("bicubic") > mean_psnr("bilinear")


def test_camera_motion_is_subpixel_and_stays_inside_the_photo():
    photo = data.astronaut()
    still = photo_sequence(photo, CameraMotion(), 3, (128, 128), reduce=2.0)
    assert still.shape == (3, 128, 128, 3) and (still[0] == still[2]).all()
    moving = photo_sequence(photo, CameraMotion(pan=(0.5, 0.0)), 3, (128, 128), reduce=2.0)
    # Half a pixel to the right per frame: frame 2 is frame 0 moved one pixel.
    assert np.abs(moving[2, :, 9:-8].astype(int) - moving[0, :, 8:-9]).mean() < 2
    with pytest.raises(ValueError, match="leaves the 512x512 photo"):
        photo_sequence(photo, CameraMotion(pan=(40.0, 0.0)), 5, (200, 200), reduce=2.0)


def test_from_folder_reads_clip_folders(tmp_path):
    for name, size in (("b", (70, 50)), ("a", (64, 64))):
        for i in range(3):
            (tmp_path / name).mkdir(exist_ok=True)
            Image.new("RGB", size, (i * 40, 0, 0)).save(tmp_path / name / f"{i:03d}.png")
    clips = evalset.from_folder(tmp_path)
    assert [c.name for c in clips] == ["a", "b"]
    assert clips[1].hr.shape == (3, 3, 48, 68)  # cropped to multiples of 4
    assert clips[0].hr[2, 0, 0, 0] == 80  # frames in name order


@pytest.mark.parametrize(
    "layout, message",
    [
        ({}, "no clips found"),
        ({"c/0.png": (64, 64), "c/1.png": (64, 60)}, "differ in size"),
        ({"c/0.png": (64, 64)}, "at least 2 frames"),
        ({"c/0.png": (40, 64), "c/1.png": (40, 64)}, "at least 48x48"),
    ],
)
def test_from_folder_explains_bad_layouts(tmp_path, layout, message):
    for name, size in layout.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.new("RGB", size).save(tmp_path / name)
    with pytest.raises(evalset.EvalDataError, match=message):
        evalset.from_folder(tmp_path)
